-- Coverage: what a leader measures a community against (its staff and the standard, its grids' household
-- band), and the one tile function the embedded PostGIS lacks.

-- Community workers in post (社区工作者), against the staffing standard; null until someone records it.
-- The household band a grid should hold (grids in practice serve 300–500 households), settable per community.
ALTER TABLE communities
  ADD COLUMN staff_count integer CHECK (staff_count BETWEEN 0 AND 10000),
  ADD COLUMN grid_households_min integer NOT NULL DEFAULT 300 CHECK (grid_households_min >= 0),
  ADD COLUMN grid_households_max integer NOT NULL DEFAULT 500,
  ADD CONSTRAINT communities_grid_households_max_check CHECK (grid_households_max >= grid_households_min);
-- the audit log names every column: its row function is rewritten from the table
SELECT audit_install('communities');

-- The staffing standard: a community serving 1,000–3,000 households or 3,000–10,000 people has 20–25
-- staff, and for every further 1,000–1,500 people served, 2 more. The people served are the residents, or,
-- where households say more, the households at the band's own ratio (3,000 households to 10,000 people),
-- so a community whose residents are not all recorded is not judged small. Past 10,000 people, the fewer
-- staff the standard allows are 2 per full 1,500 further people, the most 2 per full 1,000.
-- Communities under the band are held to its base (the standard sets nothing smaller).
CREATE FUNCTION staffing_standard(households bigint, residents bigint,
                                  OUT people_served bigint, OUT required_min integer, OUT required_max integer)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT p, 20 + 2 * (greatest(p - 10000, 0) / 1500)::integer, 25 + 2 * (greatest(p - 10000, 0) / 1000)::integer
  FROM (SELECT greatest(coalesce(residents, 0), ceil(coalesce(households, 0) * 10 / 3.0)::bigint) AS p) s
$$;

-- A geometry in Web Mercator as a vector tile holds it, for databases without ST_AsMVTGeom (the embedded
-- PostGIS is built without protobuf), in ST_AsMVTGeom's order: in tile coordinates (0..extent, y down),
-- snapped to whole units, clipped to the tile and its buffer, snapped again, made valid, exterior rings with
-- positive area in tile coordinates as the MVT specification wants; null when nothing of it is left.
-- PL/pgSQL with variables: a SQL function with subqueries cannot be inlined and ran fifty times slower.
CREATE FUNCTION tile_geometry(g geometry, bounds box2d, extent integer DEFAULT 4096, buffer integer DEFAULT 256)
RETURNS geometry LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  sx float8 := extent / (ST_XMax(bounds) - ST_XMin(bounds));
  sy float8 := extent / (ST_YMax(bounds) - ST_YMin(bounds));
  area box2d := ST_MakeBox2D(ST_MakePoint(-buffer, -buffer), ST_MakePoint(extent + buffer, extent + buffer));
  dimension integer := ST_Dimension(g);
  t geometry := ST_RemoveRepeatedPoints(ST_SnapToGrid(ST_Affine(g, sx, 0, 0, -sy, -ST_XMin(bounds) * sx, ST_YMax(bounds) * sy), 1));
BEGIN
  IF dimension = 0 THEN
    -- points are kept within the buffer, as ST_AsMVTGeom keeps them
    RETURN CASE WHEN ST_Intersects(t, ST_SetSRID(area::geometry, ST_SRID(t))) THEN t END;
  END IF;
  t := ST_RemoveRepeatedPoints(ST_SnapToGrid(ST_ClipByBox2D(t, area), 1));
  t := ST_ForcePolygonCCW(ST_CollectionExtract(ST_MakeValid(t), CASE dimension WHEN 2 THEN 3 ELSE 2 END));
  RETURN CASE WHEN ST_IsEmpty(t) THEN NULL ELSE t END;
END $$;

-- The tile cache (server/features/tiles/cache.ts) reads the audit log in id order and must never pass over
-- a write still to commit: every writer of a table tiles draw takes the events lock (sql/008_dispatch.sql)
-- before its first row, as issues' writers do, so the log's ids of these tables are in commit order. (The
-- API's map writes took it already; a volunteer's position did not.)
CREATE TRIGGER lock_events BEFORE INSERT OR UPDATE OR DELETE ON communities FOR EACH STATEMENT EXECUTE FUNCTION lock_events();
CREATE TRIGGER lock_events BEFORE INSERT OR UPDATE OR DELETE ON grids FOR EACH STATEMENT EXECUTE FUNCTION lock_events();
CREATE TRIGGER lock_events BEFORE INSERT OR UPDATE OR DELETE ON buildings FOR EACH STATEMENT EXECUTE FUNCTION lock_events();
CREATE TRIGGER lock_events BEFORE INSERT OR UPDATE OR DELETE ON members FOR EACH STATEMENT EXECUTE FUNCTION lock_events();
