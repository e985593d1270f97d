-- Derived links: where a thing is decides which building, grid and community it belongs to.
-- Each function recomputes every row and touches only rows whose links change; it returns that count.
-- The CTEs are MATERIALIZED so that each spatial look-up runs once per row, not once per use.
-- A thing in no grid keeps grid_id NULL (it is listed as unassigned, never dropped).

-- A building belongs to the grid and community that contain a point on its footprint's surface.
CREATE FUNCTION link_buildings() RETURNS integer LANGUAGE sql AS $$
  WITH placed AS MATERIALIZED (
    SELECT b.id,
           (SELECT g.id FROM grids g WHERE ST_Intersects(g.geom, p.pt) ORDER BY g.id LIMIT 1) AS grid_id,
           (SELECT c.id FROM communities c WHERE ST_Intersects(c.geom, p.pt) ORDER BY c.id LIMIT 1) AS community_id
    FROM buildings b CROSS JOIN LATERAL (SELECT ST_PointOnSurface(b.geom) AS pt) p
  ), changed AS (
    UPDATE buildings b SET grid_id = placed.grid_id, community_id = placed.community_id
    FROM placed
    WHERE placed.id = b.id
      AND (b.grid_id, b.community_id) IS DISTINCT FROM (placed.grid_id, placed.community_id)
    RETURNING 1
  )
  SELECT count(*)::integer FROM changed
$$;

-- A member lives in the footprint that contains the home point, else the nearest within 30 m;
-- grid and community follow the building, or the home point when there is no building.
CREATE FUNCTION link_members() RETURNS integer LANGUAGE sql AS $$
  WITH homed AS MATERIALIZED (
    SELECT m.id,
           coalesce(
             (SELECT b.id FROM buildings b WHERE ST_Intersects(b.geom, m.geom) ORDER BY b.id LIMIT 1),
             -- the index finds a few nearest footprints; metres on the spheroid decide among them
             (SELECT n.id FROM (SELECT b.id, b.geom FROM buildings b ORDER BY b.geom <-> m.geom LIMIT 4) n
               WHERE ST_DWithin(n.geom::geography, m.geom::geography, 30)
               ORDER BY ST_Distance(n.geom::geography, m.geom::geography), n.id LIMIT 1)
           ) AS building_id,
           m.geom
    FROM members m
  ), placed AS MATERIALIZED (
    SELECT h.id, h.building_id,
           CASE WHEN h.building_id IS NOT NULL THEN b.grid_id
                ELSE (SELECT g.id FROM grids g WHERE ST_Intersects(g.geom, h.geom) ORDER BY g.id LIMIT 1) END AS grid_id,
           CASE WHEN h.building_id IS NOT NULL THEN b.community_id
                ELSE (SELECT c.id FROM communities c WHERE ST_Intersects(c.geom, h.geom) ORDER BY c.id LIMIT 1) END AS community_id
    FROM homed h LEFT JOIN buildings b ON b.id = h.building_id
  ), changed AS (
    UPDATE members m SET building_id = placed.building_id, grid_id = placed.grid_id, community_id = placed.community_id
    FROM placed
    WHERE placed.id = m.id
      AND (m.building_id, m.grid_id, m.community_id) IS DISTINCT FROM (placed.building_id, placed.grid_id, placed.community_id)
    RETURNING 1
  )
  SELECT count(*)::integer FROM changed
$$;

-- An issue is on the grid and in the community that contain its point.
CREATE FUNCTION link_issues() RETURNS integer LANGUAGE sql AS $$
  WITH placed AS MATERIALIZED (
    SELECT i.id,
           (SELECT g.id FROM grids g WHERE ST_Intersects(g.geom, i.geom) ORDER BY g.id LIMIT 1) AS grid_id,
           (SELECT c.id FROM communities c WHERE ST_Intersects(c.geom, i.geom) ORDER BY c.id LIMIT 1) AS community_id
    FROM issues i
  ), changed AS (
    UPDATE issues i SET grid_id = placed.grid_id, community_id = placed.community_id
    FROM placed
    WHERE placed.id = i.id
      AND (i.grid_id, i.community_id) IS DISTINCT FROM (placed.grid_id, placed.community_id)
    RETURNING 1
  )
  SELECT count(*)::integer FROM changed
$$;

-- A resident unit is in the community that contains a point on its surface.
CREATE FUNCTION link_units() RETURNS integer LANGUAGE sql AS $$
  WITH placed AS MATERIALIZED (
    SELECT u.id,
           (SELECT c.id FROM communities c WHERE ST_Intersects(c.geom, ST_PointOnSurface(u.geom)) ORDER BY c.id LIMIT 1) AS community_id
    FROM units u
  ), changed AS (
    UPDATE units u SET community_id = placed.community_id
    FROM placed
    WHERE placed.id = u.id AND u.community_id IS DISTINCT FROM placed.community_id
    RETURNING 1
  )
  SELECT count(*)::integer FROM changed
$$;
