-- The audit log (sql/007_accounts.sql): every write to the map, to accounts and to the problem wall, who,
-- when, and the row before and after. Written by statement triggers from the transition tables, so a bulk
-- write or a relink of a thousand rows is one insert into the log, not a thousand.

-- A row as the audit log keeps it: its columns by name, geometry as GeoJSON, never a password hash nor a
-- photo's bytes (its size and hash are kept). One function per table, audit_json_<table>, written from its
-- columns: naming them is five times faster than to_jsonb of the row, whose geometry cast dominates a bulk
-- write. This file calls it for every audited table on each migrate that changed anything, so a column a
-- migration adds is in the log without more (a test checks the log holds every column).
CREATE OR REPLACE FUNCTION audit_install(t regclass) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  pairs text;
BEGIN
  SELECT string_agg(format('%L, %s', a.attname,
           CASE WHEN a.atttypid = 'geometry'::regtype THEN format('ST_AsGeoJSON(r.%I)::jsonb', a.attname)
                ELSE format('r.%I', a.attname) END), ', ' ORDER BY a.attnum)
  INTO pairs
  FROM pg_attribute a WHERE a.attrelid = t AND a.attnum > 0 AND NOT a.attisdropped AND a.attname <> 'password_hash'
    AND a.atttypid <> 'bytea'::regtype;
  EXECUTE format('CREATE OR REPLACE FUNCTION %I(r %s) RETURNS jsonb LANGUAGE sql STABLE AS %L',
                 'audit_json_' || t::text, t, format('SELECT jsonb_build_object(%s)', pairs));
END $$;
-- The statement trigger: one insert into the log for all the rows a statement wrote (plpgsql lets the
-- dynamic statement read the transition tables).
CREATE OR REPLACE FUNCTION audit_rows() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  actor jsonb := nullif(current_setting('gridmap.actor', true), '')::jsonb;
  row_json text := quote_ident('audit_json_' || TG_TABLE_NAME);
BEGIN
  IF TG_OP = 'INSERT' THEN
    EXECUTE format('INSERT INTO audit_log (user_id, username, request_id, action, resource, row_id, after)
                    SELECT $1, $2, $3, ''create'', $4, n.id, %s(n) FROM new_rows n', row_json)
      USING (actor->>'user_id')::int, actor->>'username', actor->>'request_id', TG_TABLE_NAME;
  ELSIF TG_OP = 'UPDATE' THEN
    EXECUTE format('INSERT INTO audit_log (user_id, username, request_id, action, resource, row_id, before, after)
                    SELECT $1, $2, $3, ''update'', $4, n.id, %1$s(o), %1$s(n) FROM new_rows n JOIN old_rows o ON o.id = n.id', row_json)
      USING (actor->>'user_id')::int, actor->>'username', actor->>'request_id', TG_TABLE_NAME;
  ELSE
    EXECUTE format('INSERT INTO audit_log (user_id, username, request_id, action, resource, row_id, before)
                    SELECT $1, $2, $3, ''delete'', $4, o.id, %s(o) FROM old_rows o', row_json)
      USING (actor->>'user_id')::int, actor->>'username', actor->>'request_id', TG_TABLE_NAME;
  END IF;
  RETURN NULL;
END $$;
COMMENT ON FUNCTION audit_rows() IS 'the audit log: one row per row written, with who, and the row before and after';

SELECT audit_install('districts');
DROP TRIGGER IF EXISTS audit_insert ON districts;
CREATE TRIGGER audit_insert AFTER INSERT ON districts REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION audit_rows();
DROP TRIGGER IF EXISTS audit_update ON districts;
CREATE TRIGGER audit_update AFTER UPDATE ON districts REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION audit_rows();
DROP TRIGGER IF EXISTS audit_delete ON districts;
CREATE TRIGGER audit_delete AFTER DELETE ON districts REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION audit_rows();

SELECT audit_install('streets');
DROP TRIGGER IF EXISTS audit_insert ON streets;
CREATE TRIGGER audit_insert AFTER INSERT ON streets REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION audit_rows();
DROP TRIGGER IF EXISTS audit_update ON streets;
CREATE TRIGGER audit_update AFTER UPDATE ON streets REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION audit_rows();
DROP TRIGGER IF EXISTS audit_delete ON streets;
CREATE TRIGGER audit_delete AFTER DELETE ON streets REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION audit_rows();

SELECT audit_install('communities');
DROP TRIGGER IF EXISTS audit_insert ON communities;
CREATE TRIGGER audit_insert AFTER INSERT ON communities REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION audit_rows();
DROP TRIGGER IF EXISTS audit_update ON communities;
CREATE TRIGGER audit_update AFTER UPDATE ON communities REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION audit_rows();
DROP TRIGGER IF EXISTS audit_delete ON communities;
CREATE TRIGGER audit_delete AFTER DELETE ON communities REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION audit_rows();

SELECT audit_install('grids');
DROP TRIGGER IF EXISTS audit_insert ON grids;
CREATE TRIGGER audit_insert AFTER INSERT ON grids REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION audit_rows();
DROP TRIGGER IF EXISTS audit_update ON grids;
CREATE TRIGGER audit_update AFTER UPDATE ON grids REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION audit_rows();
DROP TRIGGER IF EXISTS audit_delete ON grids;
CREATE TRIGGER audit_delete AFTER DELETE ON grids REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION audit_rows();

SELECT audit_install('buildings');
DROP TRIGGER IF EXISTS audit_insert ON buildings;
CREATE TRIGGER audit_insert AFTER INSERT ON buildings REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION audit_rows();
DROP TRIGGER IF EXISTS audit_update ON buildings;
CREATE TRIGGER audit_update AFTER UPDATE ON buildings REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION audit_rows();
DROP TRIGGER IF EXISTS audit_delete ON buildings;
CREATE TRIGGER audit_delete AFTER DELETE ON buildings REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION audit_rows();

SELECT audit_install('members');
DROP TRIGGER IF EXISTS audit_insert ON members;
CREATE TRIGGER audit_insert AFTER INSERT ON members REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION audit_rows();
DROP TRIGGER IF EXISTS audit_update ON members;
CREATE TRIGGER audit_update AFTER UPDATE ON members REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION audit_rows();
DROP TRIGGER IF EXISTS audit_delete ON members;
CREATE TRIGGER audit_delete AFTER DELETE ON members REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION audit_rows();

SELECT audit_install('units');
DROP TRIGGER IF EXISTS audit_insert ON units;
CREATE TRIGGER audit_insert AFTER INSERT ON units REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION audit_rows();
DROP TRIGGER IF EXISTS audit_update ON units;
CREATE TRIGGER audit_update AFTER UPDATE ON units REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION audit_rows();
DROP TRIGGER IF EXISTS audit_delete ON units;
CREATE TRIGGER audit_delete AFTER DELETE ON units REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION audit_rows();

SELECT audit_install('issues');
DROP TRIGGER IF EXISTS audit_insert ON issues;
CREATE TRIGGER audit_insert AFTER INSERT ON issues REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION audit_rows();
DROP TRIGGER IF EXISTS audit_update ON issues;
CREATE TRIGGER audit_update AFTER UPDATE ON issues REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION audit_rows();
DROP TRIGGER IF EXISTS audit_delete ON issues;
CREATE TRIGGER audit_delete AFTER DELETE ON issues REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION audit_rows();

SELECT audit_install('issue_categories');
DROP TRIGGER IF EXISTS audit_insert ON issue_categories;
CREATE TRIGGER audit_insert AFTER INSERT ON issue_categories REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION audit_rows();
DROP TRIGGER IF EXISTS audit_update ON issue_categories;
CREATE TRIGGER audit_update AFTER UPDATE ON issue_categories REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION audit_rows();
DROP TRIGGER IF EXISTS audit_delete ON issue_categories;
CREATE TRIGGER audit_delete AFTER DELETE ON issue_categories REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION audit_rows();

SELECT audit_install('issue_extensions');
DROP TRIGGER IF EXISTS audit_insert ON issue_extensions;
CREATE TRIGGER audit_insert AFTER INSERT ON issue_extensions REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION audit_rows();
DROP TRIGGER IF EXISTS audit_update ON issue_extensions;
CREATE TRIGGER audit_update AFTER UPDATE ON issue_extensions REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION audit_rows();
DROP TRIGGER IF EXISTS audit_delete ON issue_extensions;
CREATE TRIGGER audit_delete AFTER DELETE ON issue_extensions REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION audit_rows();

SELECT audit_install('issue_photos');
DROP TRIGGER IF EXISTS audit_insert ON issue_photos;
CREATE TRIGGER audit_insert AFTER INSERT ON issue_photos REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION audit_rows();
DROP TRIGGER IF EXISTS audit_update ON issue_photos;
CREATE TRIGGER audit_update AFTER UPDATE ON issue_photos REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION audit_rows();
DROP TRIGGER IF EXISTS audit_delete ON issue_photos;
CREATE TRIGGER audit_delete AFTER DELETE ON issue_photos REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION audit_rows();

SELECT audit_install('monthly_matters');
DROP TRIGGER IF EXISTS audit_insert ON monthly_matters;
CREATE TRIGGER audit_insert AFTER INSERT ON monthly_matters REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION audit_rows();
DROP TRIGGER IF EXISTS audit_update ON monthly_matters;
CREATE TRIGGER audit_update AFTER UPDATE ON monthly_matters REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION audit_rows();
DROP TRIGGER IF EXISTS audit_delete ON monthly_matters;
CREATE TRIGGER audit_delete AFTER DELETE ON monthly_matters REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION audit_rows();

SELECT audit_install('users');
DROP TRIGGER IF EXISTS audit_insert ON users;
CREATE TRIGGER audit_insert AFTER INSERT ON users REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION audit_rows();
DROP TRIGGER IF EXISTS audit_update ON users;
CREATE TRIGGER audit_update AFTER UPDATE ON users REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION audit_rows();
DROP TRIGGER IF EXISTS audit_delete ON users;
CREATE TRIGGER audit_delete AFTER DELETE ON users REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION audit_rows();

SELECT audit_install('open311_keys');
DROP TRIGGER IF EXISTS audit_insert ON open311_keys;
CREATE TRIGGER audit_insert AFTER INSERT ON open311_keys REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION audit_rows();
DROP TRIGGER IF EXISTS audit_update ON open311_keys;
CREATE TRIGGER audit_update AFTER UPDATE ON open311_keys REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION audit_rows();
DROP TRIGGER IF EXISTS audit_delete ON open311_keys;
CREATE TRIGGER audit_delete AFTER DELETE ON open311_keys REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION audit_rows();
