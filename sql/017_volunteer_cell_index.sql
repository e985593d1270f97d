-- Reach as leaders, planners and grid workers are given it measures volunteers from their hexagons' centres
-- (sql/016_volunteer_cells.sql): hexagon_centre again in PL/pgSQL, a third of the cost of the same in SQL
-- (which PostgreSQL cannot inline), and those centres indexed as the exact places are, so a building's probe
-- finds its nearby cells on the index instead of placing every volunteer around it in its cell first.
-- PostGIS is named by its schema in the body: an index's expression is also computed by ANALYZE and VACUUM,
-- which PostgreSQL 17 (the embedded database) runs with only pg_catalog on the search path.
CREATE OR REPLACE FUNCTION hexagon_centre(p geometry, edge float8 DEFAULT 300) RETURNS geometry
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
  m public.geometry := public.ST_Transform(p, 3857);
  x float8 := public.ST_X(m);
  y float8 := public.ST_Y(m);
  h float8 := edge * sqrt(3);
  i bigint := floor(x / (1.5 * edge));
  best_x float8;
  best_y float8;
  cx float8;
  cy float8;
BEGIN
  -- the nearest centre is the cell's: in the column at or just west of the point, or the next east
  FOR k IN 0..1 LOOP
    cx := 1.5 * edge * (i + k);
    cy := h * (round((y - ((i + k) & 1) * h / 2) / h) + ((i + k) & 1) / 2.0);
    IF best_x IS NULL OR (x - cx) ^ 2 + (y - cy) ^ 2 < (x - best_x) ^ 2 + (y - best_y) ^ 2 THEN
      best_x := cx;
      best_y := cy;
    END IF;
  END LOOP;
  RETURN public.ST_Transform(public.ST_SetSRID(public.ST_MakePoint(best_x, best_y), 3857), 4326);
END $$;

CREATE INDEX members_available_volunteer_cells_idx ON members USING gist ((hexagon_centre(coalesce(current_point, geom))::geography))
  WHERE is_volunteer AND availability = 'available';
