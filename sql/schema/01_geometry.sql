-- Functions of geometry and arithmetic that queries call: no table is read or written here.

-- GeoJSON in, geometry as stored: WGS 84, 2D, repeated points dropped, outer rings counter-clockwise
-- (RFC 7946), and a polygon made a multipolygon where the column wants one.
CREATE OR REPLACE FUNCTION normalized_geometry(geojson text, multi boolean DEFAULT false) RETURNS geometry
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN multi THEN ST_Multi(g) ELSE g END
  FROM (SELECT ST_ForcePolygonCCW(ST_RemoveRepeatedPoints(ST_Force2D(ST_SetSRID(ST_GeomFromGeoJSON(geojson), 4326)))) AS g) n
$$;

-- A geometry from an imported file, GeoJSON or WKT text, in the file's coordinate system, as WGS 84 GeoJSON at
-- full precision (15 digits): transformed from an SRID PostGIS knows, or from a .prj's own WKT that PROJ reads,
-- or neither (already longitude/latitude). NULL for what PostGIS cannot read or transform, so one bad row is
-- reported, not fatal.
CREATE OR REPLACE FUNCTION geojson_wgs84(source text, is_wkt boolean, from_srid integer, from_proj text) RETURNS json LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  g geometry;
BEGIN
  g := CASE WHEN is_wkt THEN ST_GeomFromText(source) ELSE ST_GeomFromGeoJSON(source) END;
  IF from_proj IS NOT NULL THEN
    g := ST_Transform(ST_SetSRID(g, 0), from_proj, 4326);
  ELSIF from_srid IS NOT NULL AND from_srid <> 4326 THEN
    g := ST_Transform(ST_SetSRID(g, from_srid), 4326);
  END IF;
  RETURN ST_AsGeoJSON(ST_SetSRID(g, 4326), 15)::json;
EXCEPTION WHEN others THEN
  RETURN NULL;
END $$;

-- 13812345678 → 138****5678: enough for a caller to recognise a number, not to dial it.
CREATE OR REPLACE FUNCTION masked_phone(phone text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN phone IS NULL THEN NULL
              WHEN length(phone) >= 8 THEN left(phone, 3) || '****' || right(phone, 4)
              ELSE '****' END
$$;

-- Where an area's name is written on the map (the `<layer>_label` points of the communities' and grids'
-- vector tiles): its centroid when that falls inside it, the middle the eye expects, else a point on its
-- surface (an L or a C has its centroid outside); of its largest part, for a community in several.
CREATE OR REPLACE FUNCTION label_point(g geometry) RETURNS geometry LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN ST_Intersects(c, p) THEN c ELSE ST_PointOnSurface(p) END
  FROM (SELECT p, ST_Centroid(p) AS c
        FROM (SELECT d.geom AS p FROM ST_Dump(g) d ORDER BY ST_Area(d.geom) DESC LIMIT 1) largest) s
$$;

-- A geometry in Web Mercator as a vector tile holds it, for databases without ST_AsMVTGeom (the embedded
-- PostGIS is built without protobuf), in ST_AsMVTGeom's order; made valid before it is clipped: ST_ClipByBox2D takes
-- valid input only, and given a ring that crosses itself (stored so, or folded by snapping to the tile's
-- grid) it can answer the whole tile.
CREATE OR REPLACE FUNCTION tile_geometry(g geometry, bounds box2d, extent integer DEFAULT 4096, buffer integer DEFAULT 256)
RETURNS geometry LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  sx float8 := extent / (ST_XMax(bounds) - ST_XMin(bounds));
  sy float8 := extent / (ST_YMax(bounds) - ST_YMin(bounds));
  area box2d := ST_MakeBox2D(ST_MakePoint(-buffer, -buffer), ST_MakePoint(extent + buffer, extent + buffer));
  dimension integer := ST_Dimension(g);
  kind integer := CASE dimension WHEN 2 THEN 3 ELSE 2 END;
  t geometry := ST_RemoveRepeatedPoints(ST_SnapToGrid(ST_Affine(g, sx, 0, 0, -sy, -ST_XMin(bounds) * sx, ST_YMax(bounds) * sy), 1));
BEGIN
  IF dimension = 0 THEN
    -- points are kept within the buffer, as ST_AsMVTGeom keeps them
    RETURN CASE WHEN ST_Intersects(t, ST_SetSRID(area::geometry, ST_SRID(t))) THEN t END;
  END IF;
  t := ST_RemoveRepeatedPoints(ST_SnapToGrid(ST_ClipByBox2D(ST_CollectionExtract(ST_MakeValid(t), kind), area), 1));
  t := ST_ForcePolygonCCW(ST_CollectionExtract(ST_MakeValid(t), kind));
  RETURN CASE WHEN ST_IsEmpty(t) THEN NULL ELSE t END;
END $$;

-- A boundary exactly as it is published.
CREATE OR REPLACE FUNCTION published_boundary(g geometry) RETURNS geometry LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT ST_SetSRID(ST_GeomFromGeoJSON(ST_AsGeoJSON(g, 7)), ST_SRID(g))
$$;

-- A valid boundary on that grid: itself when it lies there already, else snapped to it by ST_ReducePrecision
-- (which keeps it valid there: a spike or fold thinner than the grid collapses) and written as published.
-- An invalid one is left for boundary_refusal to name.
CREATE OR REPLACE FUNCTION publishable_boundary(g geometry) RETURNS geometry LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN ST_AsBinary(p) = ST_AsBinary(g) OR NOT (ST_IsValidDetail(g)).valid THEN g
              ELSE published_boundary(ST_ReducePrecision(g, 1e-7)) END
  FROM published_boundary(g) p
$$;

-- Why a boundary cannot be a grid's, or NULL: invalid as stored or as published, or not measurable on the
-- sphere (PostGIS refuses an edge between antipodes, which has no one great circle: a reason, not an error).
CREATE OR REPLACE FUNCTION boundary_refusal(g geometry) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  published geometry := published_boundary(g);
BEGIN
  IF NOT (ST_IsValidDetail(g)).valid THEN RETURN ST_IsValidReason(g); END IF;
  IF NOT (ST_IsValidDetail(published)).valid THEN RETURN ST_IsValidReason(published) || ' (to 7 decimals)'; END IF;
  PERFORM ST_Area(g::geography);
  RETURN NULL;
EXCEPTION WHEN others THEN
  RETURN SQLERRM;
END $$;

-- The parts of a computed boundary (a planner's cut or merge) with their areas, each publishable; slivers
-- under tolerance_m2 dropped.
CREATE OR REPLACE FUNCTION grid_parts(g geometry, tolerance_m2 float8 DEFAULT 1)
RETURNS TABLE (part geometry, area_m2 float8) LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT q.part, ST_Area(q.part::geography)
  FROM (
    SELECT ST_ForcePolygonCCW(ST_MakePolygon(ST_ExteriorRing(d.geom), ARRAY(
             SELECT ST_ExteriorRing(r.geom) FROM ST_DumpRings(d.geom) r
             WHERE r.path[1] > 0 AND ST_Area(r.geom::geography) > tolerance_m2))) AS part
    FROM ST_Dump(ST_CollectionExtract(publishable_boundary(g), 3)) d
  ) q
  WHERE ST_Area(q.part::geography) > tolerance_m2
  ORDER BY 2 DESC
$$;

-- The staffing standard: a community serving 1,000–3,000 households or 3,000–10,000 people has 20–25
-- staff, and for every further 1,000–1,500 people served, 2 more. The people served are the residents, or,
-- where households say more, the households at the band's own ratio (3,000 households to 10,000 people),
-- so a community whose residents are not all recorded is not judged small. Past 10,000 people, the fewer
-- staff the standard allows are 2 per full 1,500 further people, the most 2 per full 1,000.
-- Communities under the band are held to its base (the standard sets nothing smaller).
CREATE OR REPLACE FUNCTION staffing_standard(households bigint, residents bigint,
                                  OUT people_served bigint, OUT required_min integer, OUT required_max integer)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT p, 20 + 2 * (greatest(p - 10000, 0) / 1500)::integer, 25 + 2 * (greatest(p - 10000, 0) / 1000)::integer
  FROM (SELECT greatest(coalesce(residents, 0), ceil(coalesce(households, 0) * 10 / 3.0)::bigint) AS p) s
$$;

-- `g` grown by at least `m` metres in every direction (a degree of latitude is over 110 km; of longitude, over
-- 110 km times the cosine of the latitude): a box for an index to find what lies within m of g.
CREATE OR REPLACE FUNCTION expand_m(g geometry, m float8) RETURNS geometry LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT ST_Expand(g, m / (110000 * cos(radians(least(89, greatest(abs(ST_YMin(g)), abs(ST_YMax(g))) + m / 110000)))), m / 110000)
$$;
