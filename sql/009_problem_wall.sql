-- The problem wall (问题墙) and the echo wall (回音壁): an issue lands on the wall of the grid that contains
-- it, climbs to the community and street walls when escalated, is answered in public and rated by its
-- reporter. The database keeps the lifecycle: which state may follow which, the wall an issue is on, its due
-- time, and a step in its timeline for every change, whoever writes it.

-- Categories with their due time: urgent 2 hours, general 7 days, complex 15 days unless set otherwise.
CREATE TABLE issue_categories (
  code       text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9_]{0,39}$'),
  name       text NOT NULL CHECK (name <> ''),
  urgency    text NOT NULL CHECK (urgency IN ('urgent', 'general', 'complex')),
  due_hours  integer NOT NULL CHECK (due_hours BETWEEN 1 AND 8760),
  updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO issue_categories (code, name, urgency, due_hours) VALUES
  ('noise', '噪音扰民', 'general', 168), ('parking', '停车管理', 'general', 168), ('property', '物业服务', 'complex', 360),
  ('street_light', '路灯照明', 'general', 168), ('sanitation', '环境卫生', 'general', 168), ('safety', '安全隐患', 'urgent', 2),
  ('elder_care', '养老助老', 'general', 168), ('other', '其他', 'general', 168);

ALTER TABLE issues DROP CONSTRAINT issues_category_check;
ALTER TABLE issues ADD CONSTRAINT issues_category_fkey FOREIGN KEY (category) REFERENCES issue_categories (code);
ALTER TABLE issues DROP CONSTRAINT issues_status_check;
ALTER TABLE issues ADD CONSTRAINT issues_status_check CHECK (status IN ('reported', 'accepted', 'in_progress', 'escalated',
  'resolved', 'answered', 'rated', 'closed', 'rejected', 'reopened'));

ALTER TABLE issues
  ADD COLUMN wall           text NOT NULL DEFAULT 'grid' CHECK (wall IN ('grid', 'community', 'street')),
  ADD COLUMN street_code    text,            -- derived: the street whose wall is above it (the nearest, outside every community)
  ADD COLUMN due_at         timestamptz,     -- derived: reported + the category's due hours + approved extensions
  ADD COLUMN extended_hours integer NOT NULL DEFAULT 0 CHECK (extended_hours >= 0),
  ADD COLUMN answer         text CHECK (answer <> ''),   -- the public reply on the echo wall
  ADD COLUMN answered_at    timestamptz,
  ADD COLUMN rating         smallint CHECK (rating BETWEEN 1 AND 5),
  ADD COLUMN rating_comment text,
  ADD COLUMN rated_at       timestamptz,
  ADD COLUMN reopen_count   integer NOT NULL DEFAULT 0,  -- rework: rated unsatisfactory and taken up again
  ADD COLUMN duplicate_of   integer REFERENCES issues (id) ON DELETE SET NULL CHECK (duplicate_of <> id),
  ADD COLUMN media_url      text;            -- a picture elsewhere, as an Open311 client sends it
CREATE INDEX issues_wall_idx ON issues (wall, grid_id, community_id, street_code) WHERE status NOT IN ('closed', 'rejected');
CREATE INDEX issues_duplicate_idx ON issues (duplicate_of) WHERE duplicate_of IS NOT NULL;
CREATE INDEX issues_reported_at_idx ON issues (reported_at);

-- The states an issue may pass through: the one graph both the database and the API read.
CREATE TABLE issue_transitions (
  from_status text NOT NULL,
  to_status   text NOT NULL,
  PRIMARY KEY (from_status, to_status)
);
INSERT INTO issue_transitions VALUES
  ('reported', 'accepted'), ('reported', 'escalated'), ('reported', 'rejected'),
  ('accepted', 'in_progress'), ('accepted', 'resolved'), ('accepted', 'escalated'), ('accepted', 'rejected'),
  ('in_progress', 'resolved'), ('in_progress', 'escalated'),
  ('escalated', 'accepted'), ('escalated', 'escalated'), ('escalated', 'rejected'),
  ('reopened', 'accepted'), ('reopened', 'in_progress'), ('reopened', 'escalated'),
  ('resolved', 'answered'),
  ('answered', 'rated'), ('answered', 'reopened'), ('answered', 'closed'),
  ('rated', 'closed');

-- The wall an issue is on and when it is due. A reported issue nobody has taken sits where its point is:
-- the grid's wall, else its community's, else the street's (the nearest community's street, never
-- nowhere). A taken issue keeps its wall, unless its grid or community is gone from under it: it goes up.
CREATE FUNCTION route_issue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status = 'reported' THEN
    NEW.wall := CASE WHEN NEW.grid_id IS NOT NULL THEN 'grid' WHEN NEW.community_id IS NOT NULL THEN 'community' ELSE 'street' END;
  END IF;
  IF NEW.wall = 'grid' AND NEW.grid_id IS NULL THEN NEW.wall := 'community'; END IF;
  IF NEW.wall = 'community' AND NEW.community_id IS NULL THEN NEW.wall := 'street'; END IF;
  IF TG_OP = 'INSERT' OR NEW.community_id IS DISTINCT FROM OLD.community_id OR NEW.geom IS DISTINCT FROM OLD.geom THEN
    NEW.street_code := coalesce((SELECT street_code FROM communities WHERE id = NEW.community_id),
                                (SELECT street_code FROM communities ORDER BY geom <-> NEW.geom LIMIT 1));
  END IF;
  IF TG_OP = 'INSERT' OR NEW.category IS DISTINCT FROM OLD.category OR NEW.extended_hours IS DISTINCT FROM OLD.extended_hours
     OR NEW.reported_at IS DISTINCT FROM OLD.reported_at THEN
    NEW.due_at := NEW.reported_at + make_interval(hours => NEW.extended_hours + (SELECT due_hours FROM issue_categories WHERE code = NEW.category));
  END IF;
  RETURN NEW;
END $$;
-- after place_issue (triggers of a kind fire in name order), which sets the grid and community
CREATE TRIGGER route_issue BEFORE INSERT OR UPDATE ON issues FOR EACH ROW EXECUTE FUNCTION route_issue();

-- A change of state follows the graph; its time is kept (resolved, answered, rated, closed) and rework counted.
CREATE FUNCTION issue_transition() RETURNS trigger LANGUAGE plpgsql AS $$
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
    WHEN 'reopened' THEN NEW.rated_at := now(); NEW.reopen_count := OLD.reopen_count + 1;
    WHEN 'closed', 'rejected' THEN NEW.closed_at := now();
    ELSE NULL;
  END CASE;
  RETURN NEW;
END $$;
CREATE TRIGGER issue_transition BEFORE UPDATE OF status ON issues FOR EACH ROW EXECUTE FUNCTION issue_transition();

-- The timeline: every change of state or wall with who, when, from, to and a note. The API names the action
-- and the note for its transaction (gridmap.step); a change without one is named by the state it reached.
CREATE TABLE issue_steps (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  issue_id    integer NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
  at          timestamptz NOT NULL DEFAULT clock_timestamp(),
  action      text NOT NULL,
  from_status text,
  to_status   text,
  from_wall   text,
  to_wall     text,
  note        text,
  user_id     integer,
  username    text
);
CREATE INDEX issue_steps_issue_idx ON issue_steps (issue_id, id);

CREATE FUNCTION issue_stepped() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  actor jsonb := nullif(current_setting('gridmap.actor', true), '')::jsonb;
  step jsonb := nullif(current_setting('gridmap.step', true), '')::jsonb;
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO issue_steps (issue_id, at, action, to_status, to_wall, note, user_id, username)
    VALUES (NEW.id, NEW.reported_at, 'report', NEW.status, NEW.wall, step->>'note', (actor->>'user_id')::int, actor->>'username');
  ELSIF NEW.status IS DISTINCT FROM OLD.status OR NEW.wall IS DISTINCT FROM OLD.wall THEN
    INSERT INTO issue_steps (issue_id, action, from_status, to_status, from_wall, to_wall, note, user_id, username)
    VALUES (NEW.id, coalesce(step->>'action', CASE WHEN NEW.status = OLD.status THEN 'move' ELSE NEW.status END),
            OLD.status, NEW.status, OLD.wall, NEW.wall, step->>'note', (actor->>'user_id')::int, actor->>'username');
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER issue_stepped AFTER INSERT OR UPDATE ON issues FOR EACH ROW EXECUTE FUNCTION issue_stepped();

-- More time, asked on the issue's wall and decided one level up.
CREATE TABLE issue_extensions (
  id           integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  issue_id     integer NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
  wall         text NOT NULL,          -- where it was asked; the level above decides
  hours        integer NOT NULL CHECK (hours BETWEEN 1 AND 2160),
  reason       text NOT NULL CHECK (reason <> ''),
  state        text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'approved', 'refused')),
  requested_by integer REFERENCES users (id) ON DELETE SET NULL,
  requested_at timestamptz NOT NULL DEFAULT now(),
  decided_by   integer REFERENCES users (id) ON DELETE SET NULL,
  decided_at   timestamptz,
  decision     text
);
CREATE UNIQUE INDEX issue_extensions_pending_key ON issue_extensions (issue_id) WHERE state = 'pending';

-- Pictures of the problem (report) and of the work done (answer), kept in the database so that they
-- survive restarts and go with its backups; five of each kind per issue.
CREATE TABLE issue_photos (
  id           integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  issue_id     integer NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
  kind         text NOT NULL CHECK (kind IN ('report', 'answer')),
  content_type text NOT NULL CHECK (content_type IN ('image/jpeg', 'image/png', 'image/webp')),
  byte_size    integer NOT NULL,
  sha256       text NOT NULL,
  data         bytea NOT NULL,
  created_by   integer REFERENCES users (id) ON DELETE SET NULL,
  created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX issue_photos_issue_idx ON issue_photos (issue_id, kind);

CREATE FUNCTION issue_photo_limit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- the issue's row lock makes two uploads at once count one after the other
  PERFORM FROM issues WHERE id = NEW.issue_id FOR UPDATE;
  IF (SELECT count(*) FROM issue_photos WHERE issue_id = NEW.issue_id AND kind = NEW.kind) >= 5 THEN
    RAISE EXCEPTION 'issue % has five % photos already', NEW.issue_id, NEW.kind
      USING ERRCODE = 'check_violation', CONSTRAINT = 'issue_photos_limit', COLUMN = 'kind';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER issue_photo_limit BEFORE INSERT ON issue_photos FOR EACH ROW EXECUTE FUNCTION issue_photo_limit();

-- One matter a month (一月一事一议一公开): the matter a community picks, its discussion and outcome, published.
CREATE TABLE monthly_matters (
  id           integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  community_id integer NOT NULL REFERENCES communities (id) ON DELETE CASCADE,
  month        date NOT NULL CHECK (extract(day FROM month) = 1),
  title        text NOT NULL CHECK (title <> ''),
  discussion   text,
  outcome      text,
  issue_id     integer REFERENCES issues (id) ON DELETE SET NULL,
  published_at timestamptz,
  updated_by   integer REFERENCES users (id) ON DELETE SET NULL,
  updated_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (community_id, month)
);

-- Issues that were there before: on the walls their state implies, with due times and answers to show.
UPDATE issues SET
  wall = CASE WHEN status = 'escalated' AND community_id IS NOT NULL THEN 'community' ELSE wall END,
  street_code = coalesce((SELECT street_code FROM communities c WHERE c.id = community_id),
                         (SELECT street_code FROM communities c ORDER BY c.geom <-> issues.geom LIMIT 1)),
  due_at = reported_at + make_interval(hours => (SELECT due_hours FROM issue_categories WHERE code = category)),
  answer = CASE WHEN status IN ('answered', 'rated', 'closed') THEN '已处理：' || title END;
SELECT audit_install('issues');
