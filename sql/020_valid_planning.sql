-- Planning keeps grid boundaries on the grid Gridmap publishes them to: GeoJSON to 7 decimals (about a
-- centimetre), what the map shows and the planner's editor sends back. Overlay in full double precision
-- along edges a dragged vertex (rounded to 7 decimals) misses by a hair left spikes and zig-zags valid only
-- to the last bit: published, the neighbour crossed itself; snapped to a tile's grid, it filled the tile.

-- A boundary exactly as it is published.
CREATE FUNCTION published_boundary(g geometry) RETURNS geometry LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT ST_SetSRID(ST_GeomFromGeoJSON(ST_AsGeoJSON(g, 7)), ST_SRID(g))
$$;

-- A valid boundary on that grid: itself when it lies there already, else snapped to it by ST_ReducePrecision
-- (which keeps it valid there: a spike or fold thinner than the grid collapses) and written as published.
-- An invalid one is left for boundary_refusal to name.
CREATE FUNCTION publishable_boundary(g geometry) RETURNS geometry LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN ST_AsBinary(p) = ST_AsBinary(g) OR NOT (ST_IsValidDetail(g)).valid THEN g
              ELSE published_boundary(ST_ReducePrecision(g, 1e-7)) END
  FROM published_boundary(g) p
$$;

-- Why a boundary cannot be a grid's, or NULL: invalid as stored or as published, or not measurable on the
-- sphere (PostGIS refuses an edge between antipodes, which has no one great circle: a reason, not an error).
CREATE FUNCTION boundary_refusal(g geometry) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
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

-- sql/012's parts of a computed boundary, now publishable.
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

-- sql/010's tile geometry for the embedded encoder, made valid before it is clipped: ST_ClipByBox2D takes
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

-- sql/013's relinks, the symmetric difference of a moved boundary taken on a fixed grid of a tenth of a
-- millimetre: in full precision GEOS can fail on two shapes that differ by a hair (a boundary redrawn as it
-- is published), which inside the embedded database breaks the trigger instead of raising an error. The area
-- only picks the rows to place again (by a box 100 m larger): no row is missed for the rounding.
CREATE OR REPLACE FUNCTION changed_area() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  area geometry;
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT ST_Collect(geom) INTO area FROM new_rows;
  ELSIF TG_OP = 'DELETE' THEN
    SELECT ST_Collect(geom) INTO area FROM old_rows;
  ELSIF TG_TABLE_NAME = 'buildings' THEN
    UPDATE members m SET grid_id = n.grid_id, community_id = n.community_id
    FROM old_rows o JOIN new_rows n ON n.id = o.id
    WHERE m.building_id = n.id AND ST_Equals(o.geom, n.geom)
      AND (m.grid_id, m.community_id) IS DISTINCT FROM (n.grid_id, n.community_id);
    SELECT ST_Collect(g) INTO area
    FROM old_rows o JOIN new_rows n ON n.id = o.id CROSS JOIN LATERAL unnest(ARRAY[o.geom, n.geom]) AS g
    WHERE NOT ST_Equals(o.geom, n.geom);
  ELSE
    SELECT ST_Collect(ST_SymDifference(o.geom, n.geom, 1e-9)) INTO area
    FROM old_rows o JOIN new_rows n ON n.id = o.id
    WHERE NOT ST_Equals(o.geom, n.geom);
  END IF;
  IF area IS NULL THEN
    RETURN NULL;
  END IF;
  -- A bulk write relinks by its bounding box: one cheap test per row instead of one against every shape.
  IF ST_NumGeometries(area) > 64 THEN
    area := ST_Envelope(area);
  END IF;
  IF TG_TABLE_NAME = 'communities' THEN
    PERFORM link_units(area);
  END IF;
  IF TG_TABLE_NAME IN ('communities', 'grids') THEN
    PERFORM link_buildings(area);
    PERFORM link_issues(area);
    PERFORM link_members_without_building(area);
  ELSE
    PERFORM link_members(area);
  END IF;
  RETURN NULL;
END $$;
