-- Dispatching volunteers to issues: a dispatch's states, its steps and events, the volunteer's availability.

-- The states a dispatch may pass through; anything else is a bug in a writer, refused.
CREATE OR REPLACE FUNCTION dispatch_transition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.state = OLD.state THEN RETURN NEW; END IF;
  IF NOT (OLD.state = 'offered' AND NEW.state IN ('accepted', 'declined', 'timed_out', 'withdrawn')
       OR OLD.state = 'accepted' AND NEW.state IN ('arrived', 'finished', 'cancelled')
       OR OLD.state = 'arrived' AND NEW.state IN ('finished', 'cancelled')) THEN
    RAISE EXCEPTION 'dispatch % cannot go from % to %', OLD.id, OLD.state, NEW.state
      USING ERRCODE = 'check_violation', CONSTRAINT = 'dispatches_state_transition', COLUMN = 'state';
  END IF;
  RETURN NEW;
END $$;
COMMENT ON FUNCTION dispatch_transition() IS 'refuses a change of state the dispatch graph does not allow';

DROP TRIGGER IF EXISTS dispatch_transition ON dispatches;
CREATE TRIGGER dispatch_transition BEFORE UPDATE OF state ON dispatches
  FOR EACH ROW EXECUTE FUNCTION dispatch_transition();

-- A dispatch's step, its event, and the volunteer's availability: busy while assigned, available after.
CREATE OR REPLACE FUNCTION dispatch_stepped() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  actor jsonb := nullif(current_setting('gridmap.actor', true), '')::jsonb;
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.state = OLD.state THEN RETURN NULL; END IF;
  IF TG_OP = 'INSERT' THEN
    SELECT jsonb_build_object('user_id', u.id, 'username', u.username) INTO actor
    FROM dispatch_requests r JOIN users u ON u.id = r.requested_by WHERE r.id = NEW.request_id;
  END IF;
  INSERT INTO dispatch_steps (dispatch_id, issue_id, volunteer_id, state, distance_m, user_id, username)
  VALUES (NEW.id, NEW.issue_id, NEW.volunteer_id, NEW.state, NEW.distance_m, (actor->>'user_id')::int, actor->>'username');
  INSERT INTO events (kind, issue_id, community_id, grid_id, reported_by, volunteer_id, data)
  SELECT 'dispatch', NEW.issue_id, i.community_id, i.grid_id, i.reported_by, NEW.volunteer_id, jsonb_build_object(
    'dispatch_id', NEW.id, 'request_id', NEW.request_id, 'issue_id', NEW.issue_id, 'state', NEW.state, 'rank', NEW.rank, 'version', NEW.version)
  FROM issues i WHERE i.id = NEW.issue_id;
  IF NEW.state = 'accepted' THEN
    UPDATE members SET availability = 'busy' WHERE id = NEW.volunteer_id;
  ELSIF TG_OP = 'UPDATE' AND OLD.state IN ('accepted', 'arrived') AND NEW.state NOT IN ('accepted', 'arrived') THEN
    UPDATE members SET availability = 'available' WHERE id = NEW.volunteer_id AND availability = 'busy';
  END IF;
  RETURN NULL;
END $$;
COMMENT ON FUNCTION dispatch_stepped() IS 'writes the dispatch''s step and event, and makes the volunteer busy while assigned, available after';

DROP TRIGGER IF EXISTS dispatch_stepped ON dispatches;
CREATE TRIGGER dispatch_stepped AFTER INSERT OR UPDATE OF state ON dispatches
  FOR EACH ROW EXECUTE FUNCTION dispatch_stepped();

-- An issue deleted under an assignment frees its volunteer; a volunteer deleted under one leaves its
-- request open again, for the next nearest (the issue's own deletion is announced by the issue).
CREATE OR REPLACE FUNCTION dispatch_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE members m SET availability = 'available'
  FROM old_rows o WHERE m.id = o.volunteer_id AND o.state IN ('accepted', 'arrived') AND m.availability = 'busy';
  UPDATE dispatch_requests r SET state = 'open'
  FROM old_rows o WHERE r.id = o.request_id AND o.state IN ('accepted', 'arrived') AND r.state = 'assigned';
  INSERT INTO events (kind, issue_id, community_id, grid_id, reported_by, volunteer_id, data)
  SELECT 'dispatch', o.issue_id, i.community_id, i.grid_id, i.reported_by, o.volunteer_id,
         jsonb_build_object('dispatch_id', o.id, 'request_id', o.request_id, 'issue_id', o.issue_id, 'state', 'deleted')
  FROM old_rows o JOIN issues i ON i.id = o.issue_id;
  RETURN NULL;
END $$;
COMMENT ON FUNCTION dispatch_deleted() IS 'frees the volunteer and reopens the request of an assignment deleted';

DROP TRIGGER IF EXISTS dispatch_deleted ON dispatches;
CREATE TRIGGER dispatch_deleted AFTER DELETE ON dispatches REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION dispatch_deleted();

-- Busy means assigned: nobody sets it by hand, and nobody leaves it while still assigned.
CREATE OR REPLACE FUNCTION volunteer_busy() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  assigned integer;
BEGIN
  SELECT id INTO assigned FROM dispatches WHERE volunteer_id = NEW.id AND state IN ('accepted', 'arrived');
  IF NEW.availability = 'busy' AND assigned IS NULL THEN
    RAISE EXCEPTION 'a volunteer is busy only while assigned to a dispatch'
      USING ERRCODE = 'check_violation', CONSTRAINT = 'members_availability_busy', COLUMN = 'availability';
  END IF;
  IF TG_OP = 'UPDATE' AND OLD.availability = 'busy' AND NEW.availability <> 'busy' AND assigned IS NOT NULL THEN
    RAISE EXCEPTION 'member % is on dispatch %: finish or cancel it first', NEW.id, assigned
      USING ERRCODE = 'check_violation', CONSTRAINT = 'members_availability_busy', COLUMN = 'availability';
  END IF;
  RETURN NEW;
END $$;
COMMENT ON FUNCTION volunteer_busy() IS 'refuses busy set by hand, and leaving busy while assigned';

DROP TRIGGER IF EXISTS volunteer_busy_insert ON members;
CREATE TRIGGER volunteer_busy_insert BEFORE INSERT ON members
  FOR EACH ROW WHEN ((new.availability = 'busy'::text)) EXECUTE FUNCTION volunteer_busy();

DROP TRIGGER IF EXISTS volunteer_busy_update ON members;
CREATE TRIGGER volunteer_busy_update BEFORE UPDATE OF availability ON members
  FOR EACH ROW WHEN (((new.availability IS DISTINCT FROM old.availability) AND (('busy'::text = new.availability) OR ('busy'::text = old.availability)))) EXECUTE FUNCTION volunteer_busy();

-- Going off duty, however it is set, hands back open offers (the timer then asks the next nearest).
CREATE OR REPLACE FUNCTION volunteer_off_duty() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE dispatches SET state = 'declined' WHERE volunteer_id = NEW.id AND state = 'offered';
  RETURN NULL;
END $$;
COMMENT ON FUNCTION volunteer_off_duty() IS 'declines the open offers of a volunteer going off duty';

DROP TRIGGER IF EXISTS volunteer_off_duty ON members;
CREATE TRIGGER volunteer_off_duty AFTER UPDATE OF availability ON members
  FOR EACH ROW WHEN (((new.availability = 'off_duty'::text) AND (old.availability <> 'off_duty'::text))) EXECUTE FUNCTION volunteer_off_duty();

-- An issue resolved, closed or rejected ends its dispatching: offers withdrawn, the assigned volunteer
-- finished (and so freed), the request done.
CREATE OR REPLACE FUNCTION issue_settled() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE dispatches d SET state = CASE WHEN d.state = 'offered' THEN 'withdrawn' ELSE 'finished' END
  FROM new_rows n
  WHERE d.issue_id = n.id AND d.state IN ('offered', 'accepted', 'arrived')
    AND n.status IN ('resolved', 'answered', 'rated', 'closed', 'rejected');
  UPDATE dispatch_requests r SET state = 'done'
  FROM new_rows n
  WHERE r.issue_id = n.id AND r.state IN ('open', 'assigned') AND n.status IN ('resolved', 'answered', 'rated', 'closed', 'rejected');
  RETURN NULL;
END $$;
COMMENT ON FUNCTION issue_settled() IS 'ends the dispatching of an issue resolved, closed or rejected';

DROP TRIGGER IF EXISTS issue_settled ON issues;
CREATE TRIGGER issue_settled AFTER UPDATE ON issues REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION issue_settled();
