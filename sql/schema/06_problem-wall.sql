-- The problem wall (问题墙) and echo wall (回音壁): an issue's wall, its states and their times, its timeline.

-- The wall an issue is on and when it is due. A reported issue nobody has taken sits where its point is:
-- the grid's wall, else its community's, else the street's (the nearest community's street, never
-- nowhere). A taken issue keeps its wall, unless its grid or community is gone from under it: it goes up.
-- A wall changes otherwise only by an escalation, one wall up.
-- The due time is set when the issue is reported (and again if its category or time is corrected before
-- anyone takes it up); an approved extension adds its hours to it.
CREATE OR REPLACE FUNCTION route_issue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.wall IS DISTINCT FROM OLD.wall
     AND NOT (NEW.status = 'escalated' AND array_position(ARRAY['grid', 'community', 'street'], NEW.wall)
                                           = array_position(ARRAY['grid', 'community', 'street'], OLD.wall) + 1) THEN
    RAISE EXCEPTION 'issue % cannot move from the % wall to the % wall but by an escalation one wall up', OLD.id, OLD.wall, NEW.wall
      USING ERRCODE = 'check_violation', CONSTRAINT = 'issues_wall_escalation', COLUMN = 'wall';
  END IF;
  IF NEW.status = 'reported' THEN
    NEW.wall := CASE WHEN NEW.grid_id IS NOT NULL THEN 'grid' WHEN NEW.community_id IS NOT NULL THEN 'community' ELSE 'street' END;
  END IF;
  IF NEW.wall = 'grid' AND NEW.grid_id IS NULL THEN NEW.wall := 'community'; END IF;
  IF NEW.wall = 'community' AND NEW.community_id IS NULL THEN NEW.wall := 'street'; END IF;
  IF TG_OP = 'INSERT' OR NEW.community_id IS DISTINCT FROM OLD.community_id OR NEW.geom IS DISTINCT FROM OLD.geom THEN
    NEW.street_code := coalesce((SELECT street_code FROM communities WHERE id = NEW.community_id),
                                (SELECT street_code FROM communities ORDER BY geom <-> NEW.geom LIMIT 1));
  END IF;
  IF TG_OP = 'INSERT' OR NEW.status = 'reported' AND (NEW.category IS DISTINCT FROM OLD.category OR NEW.reported_at IS DISTINCT FROM OLD.reported_at) THEN
    NEW.due_at := NEW.reported_at + make_interval(hours => NEW.extended_hours + (SELECT due_hours FROM issue_categories WHERE code = NEW.category));
  ELSIF NEW.extended_hours IS DISTINCT FROM OLD.extended_hours THEN
    NEW.due_at := OLD.due_at + make_interval(hours => NEW.extended_hours - OLD.extended_hours);
  END IF;
  RETURN NEW;
END $$;
COMMENT ON FUNCTION route_issue() IS 'puts the issue on its wall (grid, community, street) and sets its street and due time; after place_issue, which sets its grid and community';

DROP TRIGGER IF EXISTS route_issue ON issues;
CREATE TRIGGER route_issue BEFORE INSERT OR UPDATE ON issues
  FOR EACH ROW EXECUTE FUNCTION route_issue();

-- A community moved to another street takes its issues' street with it.
CREATE OR REPLACE FUNCTION community_street_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE issues SET street_code = NEW.street_code WHERE community_id = NEW.id AND street_code IS DISTINCT FROM NEW.street_code;
  RETURN NULL;
END $$;
COMMENT ON FUNCTION community_street_moved() IS 'moves the street of the community''s issues with it';

DROP TRIGGER IF EXISTS community_street_moved ON communities;
CREATE TRIGGER community_street_moved AFTER UPDATE OF street_code ON communities
  FOR EACH ROW WHEN ((new.street_code IS DISTINCT FROM old.street_code)) EXECUTE FUNCTION community_street_moved();

-- A change of state follows the graph; its time is kept (resolved, answered, rated, closed) and rework counted.
CREATE OR REPLACE FUNCTION issue_transition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status = OLD.status THEN RETURN NEW; END IF;
  IF NOT EXISTS (SELECT FROM issue_transitions WHERE from_status = OLD.status AND to_status = NEW.status) THEN
    RAISE EXCEPTION 'issue % cannot go from % to %', OLD.id, OLD.status, NEW.status
      USING ERRCODE = 'check_violation', CONSTRAINT = 'issues_status_transition', COLUMN = 'status';
  END IF;
  CASE NEW.status
    WHEN 'resolved' THEN NEW.resolved_at := now();
    WHEN 'answered' THEN NEW.answered_at := now();
    WHEN 'rated' THEN NEW.rated_at := now();
    -- taken up again: its earlier resolution no longer counts as one
    WHEN 'reopened' THEN NEW.rated_at := now(); NEW.reopen_count := OLD.reopen_count + 1; NEW.resolved_at := NULL;
    WHEN 'closed', 'rejected' THEN NEW.closed_at := now();
    ELSE NULL;
  END CASE;
  RETURN NEW;
END $$;
COMMENT ON FUNCTION issue_transition() IS 'refuses a change of status the graph (issue_transitions) does not allow; keeps the time of each state and counts rework';

DROP TRIGGER IF EXISTS issue_transition ON issues;
CREATE TRIGGER issue_transition BEFORE UPDATE OF status ON issues
  FOR EACH ROW EXECUTE FUNCTION issue_transition();

CREATE OR REPLACE FUNCTION issue_stepped() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  actor jsonb := nullif(current_setting('gridmap.actor', true), '')::jsonb;
  step jsonb := nullif(current_setting('gridmap.step', true), '')::jsonb;
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO issue_steps (issue_id, at, action, to_status, to_wall, note, user_id, username)
    VALUES (NEW.id, NEW.reported_at, 'report', NEW.status, NEW.wall, step->>'note', (actor->>'user_id')::int, actor->>'username');
    RETURN NULL;
  END IF;
  IF NEW.status IS DISTINCT FROM OLD.status OR NEW.wall IS DISTINCT FROM OLD.wall THEN
    INSERT INTO issue_steps (issue_id, action, from_status, to_status, from_wall, to_wall, note, user_id, username)
    VALUES (NEW.id, coalesce(step->>'action', CASE WHEN NEW.status = OLD.status THEN 'move' ELSE NEW.status END),
            OLD.status, NEW.status, OLD.wall, NEW.wall, step->>'note', (actor->>'user_id')::int, actor->>'username');
  ELSIF NEW.grid_id IS DISTINCT FROM OLD.grid_id OR NEW.community_id IS DISTINCT FROM OLD.community_id THEN
    -- a redrawn boundary (or a corrected point) hands the issue to another grid's or community's wall
    INSERT INTO issue_steps (issue_id, action, from_status, to_status, from_wall, to_wall, note, user_id, username)
    VALUES (NEW.id, 'move', OLD.status, NEW.status, OLD.wall, NEW.wall,
            format('grid %s → %s, community %s → %s', coalesce(OLD.grid_id::text, '-'), coalesce(NEW.grid_id::text, '-'),
                   coalesce(OLD.community_id::text, '-'), coalesce(NEW.community_id::text, '-')),
            (actor->>'user_id')::int, actor->>'username');
  END IF;
  -- more time asked on a wall the issue has left, or for work that is done, is no longer to be decided
  IF NEW.wall IS DISTINCT FROM OLD.wall OR NEW.status IN ('resolved', 'answered', 'rated', 'closed', 'rejected') THEN
    UPDATE issue_extensions SET state = 'withdrawn', decided_at = now(), decision = format('the issue went %s on the %s wall', NEW.status, NEW.wall)
    WHERE issue_id = NEW.id AND state = 'pending';
  END IF;
  RETURN NULL;
END $$;
COMMENT ON FUNCTION issue_stepped() IS 'writes the issue''s timeline (issue_steps) and withdraws extensions a move or a settlement made moot';

DROP TRIGGER IF EXISTS issue_stepped ON issues;
CREATE TRIGGER issue_stepped AFTER INSERT OR UPDATE ON issues
  FOR EACH ROW EXECUTE FUNCTION issue_stepped();

CREATE OR REPLACE FUNCTION issue_photo_limit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- the issue's row lock makes two uploads at once count one after the other
  PERFORM FROM issues WHERE id = NEW.issue_id FOR UPDATE;
  IF (SELECT count(*) FROM issue_photos WHERE issue_id = NEW.issue_id AND kind = NEW.kind) >= 5 THEN
    RAISE EXCEPTION 'issue % has five % photos already', NEW.issue_id, NEW.kind
      USING ERRCODE = 'check_violation', CONSTRAINT = 'issue_photos_limit', COLUMN = 'kind';
  END IF;
  RETURN NEW;
END $$;
COMMENT ON FUNCTION issue_photo_limit() IS 'refuses a sixth photo of a kind for one issue';

DROP TRIGGER IF EXISTS issue_photo_limit ON issue_photos;
CREATE TRIGGER issue_photo_limit BEFORE INSERT ON issue_photos
  FOR EACH ROW EXECUTE FUNCTION issue_photo_limit();
