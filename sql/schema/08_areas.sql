-- Areas kept by the database: a street's derived boundary, a grid's community from its code, and the
-- versions of each grid (planning's history).

-- A street made by hand has no boundary of its own: writing none (null) makes it the union of its
-- communities, kept so as they change; a boundary given (imported, drawn) is kept as given.
CREATE OR REPLACE FUNCTION street_boundary() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.boundary_from_communities := NEW.geom IS NULL;
  IF NEW.boundary_from_communities THEN
    NEW.geom := (SELECT ST_Multi(ST_Union(geom)) FROM communities WHERE street_code = NEW.code);
  END IF;
  RETURN NEW;
END $$;
COMMENT ON FUNCTION street_boundary() IS 'draws a street without a boundary of its own as the union of its communities';

DROP TRIGGER IF EXISTS street_boundary ON streets;
CREATE TRIGGER street_boundary BEFORE INSERT OR UPDATE OF geom ON streets
  FOR EACH ROW EXECUTE FUNCTION street_boundary();

-- Communities that appear, move, change street or vanish redraw the derived boundaries of their streets,
-- once per statement.
CREATE OR REPLACE FUNCTION communities_redraw_streets() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    UPDATE streets SET geom = NULL WHERE boundary_from_communities AND code IN (SELECT street_code FROM new_rows);
  ELSIF TG_OP = 'DELETE' THEN
    UPDATE streets SET geom = NULL WHERE boundary_from_communities AND code IN (SELECT street_code FROM old_rows);
  ELSE
    UPDATE streets SET geom = NULL WHERE boundary_from_communities AND code IN (
      SELECT s.code FROM new_rows n JOIN old_rows o ON o.id = n.id CROSS JOIN LATERAL (VALUES (n.street_code), (o.street_code)) s(code)
      WHERE n.geom IS DISTINCT FROM o.geom OR n.street_code <> o.street_code);
  END IF;
  RETURN NULL;
END $$;
COMMENT ON FUNCTION communities_redraw_streets() IS 'redraws the derived boundaries of the streets whose communities changed';

DROP TRIGGER IF EXISTS redraw_streets_delete ON communities;
CREATE TRIGGER redraw_streets_delete AFTER DELETE ON communities REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION communities_redraw_streets();

DROP TRIGGER IF EXISTS redraw_streets_insert ON communities;
CREATE TRIGGER redraw_streets_insert AFTER INSERT ON communities REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION communities_redraw_streets();

DROP TRIGGER IF EXISTS redraw_streets_update ON communities;
CREATE TRIGGER redraw_streets_update AFTER UPDATE ON communities REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION communities_redraw_streets();

-- A grid's code is its community's code and 3 digits more: a city office's file names a grid's community by
-- that code, not by Gridmap's id. A grid written without community_id takes the community its code begins with.
CREATE OR REPLACE FUNCTION grid_community_from_code() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.community_id IS NULL THEN
    NEW.community_id := (SELECT id FROM communities WHERE code = left(NEW.code, 12));
    IF NEW.community_id IS NULL THEN
      RAISE EXCEPTION 'no community has code % (the first 12 digits of grid code %): import the communities first, or give community_id', left(NEW.code, 12), NEW.code
        USING ERRCODE = 'check_violation', COLUMN = 'community_id';
    END IF;
  END IF;
  RETURN NEW;
END $$;
COMMENT ON FUNCTION grid_community_from_code() IS 'gives a grid written without community_id the community its code begins with';

DROP TRIGGER IF EXISTS grid_community_from_code ON grids;
CREATE TRIGGER grid_community_from_code BEFORE INSERT ON grids
  FOR EACH ROW EXECUTE FUNCTION grid_community_from_code();

-- The API names the planning change of its transaction in gridmap.grid_change (set_config, local).
CREATE OR REPLACE FUNCTION record_grid_version() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  actor jsonb := nullif(current_setting('gridmap.actor', true), '')::jsonb;
  change bigint := nullif(current_setting('gridmap.grid_change', true), '')::bigint;
  change_kind text := (SELECT kind FROM grid_changes WHERE id = change);
  r grids;
BEGIN
  IF TG_OP = 'UPDATE' AND (NEW.geom, NEW.community_id, NEW.code, NEW.name) IS NOT DISTINCT FROM (OLD.geom, OLD.community_id, OLD.code, OLD.name) THEN
    RETURN NULL;
  END IF;
  r := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
  INSERT INTO grid_versions (grid_id, community_id, version, code, name, user_id, username, change_id, kind, geom_before, geom_after)
  VALUES (r.id, r.community_id, CASE WHEN TG_OP <> 'DELETE' THEN r.version END, r.code, r.name,
          (actor->>'user_id')::int, actor->>'username', change,
          coalesce(change_kind, CASE TG_OP WHEN 'INSERT' THEN 'create' WHEN 'UPDATE' THEN 'edit' ELSE 'remove' END),
          CASE WHEN TG_OP <> 'INSERT' THEN OLD.geom END, CASE WHEN TG_OP <> 'DELETE' THEN NEW.geom END);
  RETURN NULL;
END $$;
COMMENT ON FUNCTION record_grid_version() IS 'keeps each version of a grid''s boundary, code and name in grid_versions, with who and which planning change';

DROP TRIGGER IF EXISTS record_grid_version ON grids;
CREATE TRIGGER record_grid_version AFTER INSERT OR DELETE OR UPDATE ON grids
  FOR EACH ROW EXECUTE FUNCTION record_grid_version();
