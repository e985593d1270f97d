-- Maps open elsewhere follow a redrawn grid: every version a grid takes (a planner's save, a revert, a PATCH,
-- an import; record_grid_version in sql/012_grid_planning.sql) is announced on the event stream as a `grid`
-- event, heard by those who hear the issues of its community (ids and a version only, as every event).
ALTER TABLE events ALTER COLUMN issue_id DROP NOT NULL;
ALTER TABLE events DROP CONSTRAINT events_kind_check;
ALTER TABLE events ADD CONSTRAINT events_kind_check CHECK (kind IN ('issue', 'dispatch', 'grid'));
ALTER TABLE events ADD CONSTRAINT events_issue_check CHECK ((kind = 'grid') = (issue_id IS NULL));

-- An event's street: its issue's, else (a grid, or an issue deleted since) its community's.
CREATE OR REPLACE FUNCTION event_street() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.street_code := coalesce((SELECT street_code FROM issues WHERE id = NEW.issue_id),
                              (SELECT street_code FROM communities WHERE id = NEW.community_id));
  RETURN NEW;
END $$;

CREATE FUNCTION grid_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO events (kind, community_id, grid_id, data)
  SELECT 'grid', n.community_id, n.grid_id,
         jsonb_build_object('grid_id', n.grid_id, 'community_id', n.community_id, 'version', n.version, 'change', n.kind)
  FROM new_rows n;
  RETURN NULL;
END $$;
CREATE TRIGGER grid_events AFTER INSERT ON grid_versions REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION grid_events();
