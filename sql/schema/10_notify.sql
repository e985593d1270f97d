-- What servers hold in memory they forget when the database tells them, once the transaction commits, on
-- every process listening.

-- Signed-in sessions (server/features/accounts/sessions.ts), all forgotten on a sign-out or a revoked key, a
-- user changed (role, scope, disabled) or deleted, a grid moved to another community (a grid worker's scope
-- carries it).
CREATE OR REPLACE FUNCTION sessions_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('gridmap_sessions', '');
  RETURN NULL;
END $$;
COMMENT ON FUNCTION sessions_changed() IS 'tells every server to forget the sessions it holds in memory';

DROP TRIGGER IF EXISTS sessions_changed ON sessions;
CREATE TRIGGER sessions_changed AFTER UPDATE OR DELETE ON sessions FOR EACH STATEMENT EXECUTE FUNCTION sessions_changed();
DROP TRIGGER IF EXISTS sessions_changed ON users;
CREATE TRIGGER sessions_changed AFTER UPDATE OR DELETE ON users FOR EACH STATEMENT EXECUTE FUNCTION sessions_changed();
DROP TRIGGER IF EXISTS sessions_changed ON grids;
CREATE TRIGGER sessions_changed AFTER UPDATE OF community_id OR DELETE ON grids FOR EACH STATEMENT EXECUTE FUNCTION sessions_changed();

-- Map tiles (server/features/tiles/cache.ts): told that a map table was written, the cache reads the audit log
-- for what changed where, instead of asking it before every tile.
CREATE OR REPLACE FUNCTION map_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT FROM new_rows WHERE resource IN ('districts', 'streets', 'communities', 'grids', 'buildings', 'members', 'issues')) THEN
    PERFORM pg_notify('gridmap_map_changed', '');
  END IF;
  RETURN NULL;
END $$;
COMMENT ON FUNCTION map_changed() IS 'tells every server that the map changed: its tile cache reads the log';

DROP TRIGGER IF EXISTS map_changed ON audit_log;
CREATE TRIGGER map_changed AFTER INSERT ON audit_log REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION map_changed();
