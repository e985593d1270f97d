-- Grid planning: every saved change of grid boundaries is a version of each grid it touched, kept by the
-- database itself (a redraw in the planner, a PATCH, an import all leave one), so a community's grids can
-- be seen as they stood on any date and an earlier boundary restored.

-- One planning change: who, when, why, and the impact report the API answered when it was saved.
CREATE TABLE grid_changes (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  community_id integer NOT NULL REFERENCES communities (id) ON DELETE CASCADE,
  kind         text NOT NULL CHECK (kind IN ('redraw', 'split', 'merge', 'create', 'revert', 'plan')),
  note         text CHECK (length(note) <= 2000),
  at           timestamptz NOT NULL DEFAULT clock_timestamp(),  -- when it was made, after waiting its turn
  user_id      integer,
  username     text,
  impact       jsonb
);
CREATE INDEX grid_changes_community_idx ON grid_changes (community_id, id);

-- A grid's boundary (and code and name) after each change (geom_after NULL: removed). No foreign key to
-- grids: the history of a merged grid outlives it.
CREATE TABLE grid_versions (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  grid_id      integer NOT NULL,
  community_id integer NOT NULL,
  version      integer,                 -- the grid's row version after the change (its ETag); NULL when removed
  code         text NOT NULL,
  name         text NOT NULL,
  at           timestamptz NOT NULL DEFAULT clock_timestamp(),
  user_id      integer,
  username     text,
  change_id    bigint REFERENCES grid_changes (id) ON DELETE SET NULL,
  -- the planning change's kind; else create, edit (a PATCH or an import) or remove; baseline: the boundary
  -- a grid had when history began
  kind         text NOT NULL,
  geom_before  geometry(Polygon, 4326),
  geom_after   geometry(Polygon, 4326)
);
CREATE INDEX grid_versions_grid_idx ON grid_versions (grid_id, id);
CREATE INDEX grid_versions_community_idx ON grid_versions (community_id, at, id);

-- The API names the planning change of its transaction in gridmap.grid_change (set_config, local).
CREATE FUNCTION record_grid_version() RETURNS trigger LANGUAGE plpgsql AS $$
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
CREATE TRIGGER record_grid_version AFTER INSERT OR UPDATE OR DELETE ON grids
  FOR EACH ROW EXECUTE FUNCTION record_grid_version();

INSERT INTO grid_versions (grid_id, community_id, version, code, name, at, kind, geom_after)
SELECT id, community_id, version, code, name, created_at, 'baseline', geom FROM grids ORDER BY id;

-- A computed boundary's parts, largest first, each without the parts and holes smaller than tolerance_m2
-- (what floating-point overlay leaves along edges that were meant to be shared). More than one part left
-- is a grid falling apart, which the API refuses.
CREATE FUNCTION grid_parts(g geometry, tolerance_m2 float8 DEFAULT 1)
RETURNS TABLE (part geometry, area_m2 float8) LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT q.part, ST_Area(q.part::geography)
  FROM (
    SELECT ST_ForcePolygonCCW(ST_MakePolygon(ST_ExteriorRing(d.geom), ARRAY(
             SELECT ST_ExteriorRing(r.geom) FROM ST_DumpRings(d.geom) r
             WHERE r.path[1] > 0 AND ST_Area(r.geom::geography) > tolerance_m2))) AS part
    FROM ST_Dump(ST_CollectionExtract(g, 3)) d
  ) q
  WHERE ST_Area(q.part::geography) > tolerance_m2
  ORDER BY 2 DESC
$$;
