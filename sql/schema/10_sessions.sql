-- Servers hold signed-in sessions in memory (server/features/accounts/sessions.ts) and forget them all when
-- told: a sign-out or a revoked key, a user changed (role, scope, disabled) or deleted, a grid moved to
-- another community (a grid worker's scope carries it). Heard by every process on the database once the
-- transaction commits.
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
