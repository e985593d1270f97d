-- The event stream (server/features/events) reads the events table; the tile cache (server/features/tiles/
-- cache.ts) reads the audit log in id order and must never pass over a write still to commit. So every
-- writer of issues, dispatches and the tables tiles draw takes one lock (lock_events, a statement trigger)
-- before its first row: the ids of events and of the audit log are then in commit order.

CREATE OR REPLACE FUNCTION lock_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(7426008);
  RETURN NULL;
END $$;
COMMENT ON FUNCTION lock_events() IS 'takes the events lock before the first row, so the ids of the audit log and events are in commit order';

CREATE OR REPLACE FUNCTION issue_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    INSERT INTO events (kind, issue_id, community_id, grid_id, reported_by, data)
    SELECT 'issue', o.id, o.community_id, o.grid_id, o.reported_by, jsonb_build_object('issue_id', o.id, 'change', 'deleted') FROM old_rows o;
  ELSE
    INSERT INTO events (kind, issue_id, community_id, grid_id, reported_by, data)
    SELECT 'issue', n.id, n.community_id, n.grid_id, n.reported_by,
           jsonb_build_object('issue_id', n.id, 'change', CASE TG_OP WHEN 'INSERT' THEN 'created' ELSE 'updated' END,
                              'status', n.status, 'grid_id', n.grid_id, 'community_id', n.community_id, 'version', n.version)
    FROM new_rows n;
  END IF;
  RETURN NULL;
END $$;
COMMENT ON FUNCTION issue_events() IS 'announces each issue created, changed or deleted on the event stream';

DROP TRIGGER IF EXISTS issue_events_delete ON issues;
CREATE TRIGGER issue_events_delete AFTER DELETE ON issues REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION issue_events();

DROP TRIGGER IF EXISTS issue_events_insert ON issues;
CREATE TRIGGER issue_events_insert AFTER INSERT ON issues REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION issue_events();

DROP TRIGGER IF EXISTS issue_events_update ON issues;
CREATE TRIGGER issue_events_update AFTER UPDATE ON issues REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION issue_events();

-- An event's street: its issue's, else (a grid, or an issue deleted since) its community's.
CREATE OR REPLACE FUNCTION event_street() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.street_code := coalesce((SELECT street_code FROM issues WHERE id = NEW.issue_id),
                              (SELECT street_code FROM communities WHERE id = NEW.community_id));
  RETURN NEW;
END $$;
COMMENT ON FUNCTION event_street() IS 'gives the event its street (its issue''s, else its community''s), for street staff to hear it';

DROP TRIGGER IF EXISTS event_street ON events;
CREATE TRIGGER event_street BEFORE INSERT ON events
  FOR EACH ROW EXECUTE FUNCTION event_street();

CREATE OR REPLACE FUNCTION grid_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO events (kind, community_id, grid_id, data)
  SELECT 'grid', n.community_id, n.grid_id,
         jsonb_build_object('grid_id', n.grid_id, 'community_id', n.community_id, 'version', n.version, 'change', n.kind)
  FROM new_rows n;
  RETURN NULL;
END $$;
COMMENT ON FUNCTION grid_events() IS 'announces each version a grid takes on the event stream';

DROP TRIGGER IF EXISTS grid_events ON grid_versions;
CREATE TRIGGER grid_events AFTER INSERT ON grid_versions REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION grid_events();

DROP TRIGGER IF EXISTS lock_events ON buildings;
CREATE TRIGGER lock_events BEFORE INSERT OR DELETE OR UPDATE ON buildings
  FOR EACH STATEMENT EXECUTE FUNCTION lock_events();

DROP TRIGGER IF EXISTS lock_events ON communities;
CREATE TRIGGER lock_events BEFORE INSERT OR DELETE OR UPDATE ON communities
  FOR EACH STATEMENT EXECUTE FUNCTION lock_events();

DROP TRIGGER IF EXISTS lock_events ON dispatches;
CREATE TRIGGER lock_events BEFORE INSERT OR DELETE OR UPDATE ON dispatches
  FOR EACH STATEMENT EXECUTE FUNCTION lock_events();

DROP TRIGGER IF EXISTS lock_events ON districts;
CREATE TRIGGER lock_events BEFORE INSERT OR DELETE OR UPDATE ON districts
  FOR EACH STATEMENT EXECUTE FUNCTION lock_events();

DROP TRIGGER IF EXISTS lock_events ON grids;
CREATE TRIGGER lock_events BEFORE INSERT OR DELETE OR UPDATE ON grids
  FOR EACH STATEMENT EXECUTE FUNCTION lock_events();

DROP TRIGGER IF EXISTS lock_events ON issues;
CREATE TRIGGER lock_events BEFORE INSERT OR DELETE OR UPDATE ON issues
  FOR EACH STATEMENT EXECUTE FUNCTION lock_events();

DROP TRIGGER IF EXISTS lock_events ON members;
CREATE TRIGGER lock_events BEFORE INSERT OR DELETE OR UPDATE ON members
  FOR EACH STATEMENT EXECUTE FUNCTION lock_events();

DROP TRIGGER IF EXISTS lock_events ON streets;
CREATE TRIGGER lock_events BEFORE INSERT OR DELETE OR UPDATE ON streets
  FOR EACH STATEMENT EXECUTE FUNCTION lock_events();
