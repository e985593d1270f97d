-- Every map row carries a version that changes with each update (its ETag, for If-Match), and its
-- updated_at, both kept by the database itself so no writer can forget them. A relink by PostGIS counts as
-- a change too: the row a client holds no longer says what is stored.
CREATE OR REPLACE FUNCTION next_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.version := OLD.version + 1;
  NEW.updated_at := now();
  RETURN NEW;
END $$;
COMMENT ON FUNCTION next_version() IS 'counts the row''s version (its ETag) and sets updated_at';

DROP TRIGGER IF EXISTS next_version ON buildings;
CREATE TRIGGER next_version BEFORE UPDATE ON buildings
  FOR EACH ROW EXECUTE FUNCTION next_version();

DROP TRIGGER IF EXISTS next_version ON communities;
CREATE TRIGGER next_version BEFORE UPDATE ON communities
  FOR EACH ROW EXECUTE FUNCTION next_version();

DROP TRIGGER IF EXISTS next_version ON dispatch_requests;
CREATE TRIGGER next_version BEFORE UPDATE ON dispatch_requests
  FOR EACH ROW EXECUTE FUNCTION next_version();

DROP TRIGGER IF EXISTS next_version ON dispatches;
CREATE TRIGGER next_version BEFORE UPDATE ON dispatches
  FOR EACH ROW EXECUTE FUNCTION next_version();

DROP TRIGGER IF EXISTS next_version ON districts;
CREATE TRIGGER next_version BEFORE UPDATE ON districts
  FOR EACH ROW EXECUTE FUNCTION next_version();

DROP TRIGGER IF EXISTS next_version ON grids;
CREATE TRIGGER next_version BEFORE UPDATE ON grids
  FOR EACH ROW EXECUTE FUNCTION next_version();

DROP TRIGGER IF EXISTS next_version ON issues;
CREATE TRIGGER next_version BEFORE UPDATE ON issues
  FOR EACH ROW EXECUTE FUNCTION next_version();

DROP TRIGGER IF EXISTS next_version ON members;
CREATE TRIGGER next_version BEFORE UPDATE ON members
  FOR EACH ROW EXECUTE FUNCTION next_version();

DROP TRIGGER IF EXISTS next_version ON streets;
CREATE TRIGGER next_version BEFORE UPDATE ON streets
  FOR EACH ROW EXECUTE FUNCTION next_version();

DROP TRIGGER IF EXISTS next_version ON units;
CREATE TRIGGER next_version BEFORE UPDATE ON units
  FOR EACH ROW EXECUTE FUNCTION next_version();

DROP TRIGGER IF EXISTS next_version ON users;
CREATE TRIGGER next_version BEFORE UPDATE ON users
  FOR EACH ROW EXECUTE FUNCTION next_version();
