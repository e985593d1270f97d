-- Derived links: where a thing is decides which building, grid and community it belongs to.
-- The *_at functions answer "what is here"; the link_* functions recompute the stored links of every row
-- that lies in `area` (all rows when it is NULL), touching only rows whose links change, and return how
-- many changed. 004_link_triggers.sql calls them whenever geometry on either side changes.
-- A thing in no grid keeps grid_id NULL (it is listed as unassigned, never dropped).

CREATE FUNCTION grid_at(pt geometry) RETURNS integer LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT id FROM grids WHERE ST_Intersects(geom, pt) ORDER BY id LIMIT 1
$$;

CREATE FUNCTION community_at(pt geometry) RETURNS integer LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT id FROM communities WHERE ST_Intersects(geom, pt) ORDER BY id LIMIT 1
$$;

-- The footprint that contains a home point, else the nearest within 30 m: the index finds the footprints
-- in a box 0.0006° around the point (over 30 m in every direction below 60° latitude), metres on the
-- spheroid decide among them.
CREATE FUNCTION building_at(pt geometry) RETURNS integer LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT coalesce(
    (SELECT id FROM buildings WHERE ST_Intersects(geom, pt) ORDER BY id LIMIT 1),
    (SELECT id FROM buildings
      WHERE geom && ST_Expand(pt, 0.0006) AND ST_DWithin(geom::geography, pt::geography, 30)
      ORDER BY ST_Distance(geom::geography, pt::geography), id LIMIT 1))
$$;

-- Rows whose links may change when `area` changes: 0.001° (over 30 m below 70° latitude) around it, so
-- that a member whose nearest footprint moved is found too.
CREATE FUNCTION near_area(geom geometry, area geometry) RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT area IS NULL OR geom && ST_Expand(area, 0.001)
$$;

-- The CTEs are MATERIALIZED so that each look-up runs once per row, not once per use.
CREATE FUNCTION link_buildings(area geometry DEFAULT NULL) RETURNS integer LANGUAGE sql AS $$
  WITH placed AS MATERIALIZED (
    SELECT id, grid_at(p) AS grid_id, community_at(p) AS community_id
    FROM (SELECT id, ST_PointOnSurface(geom) AS p FROM buildings WHERE near_area(geom, area)) b
  ), changed AS (
    UPDATE buildings b SET grid_id = placed.grid_id, community_id = placed.community_id
    FROM placed
    WHERE placed.id = b.id AND (b.grid_id, b.community_id) IS DISTINCT FROM (placed.grid_id, placed.community_id)
    RETURNING 1
  )
  SELECT count(*)::integer FROM changed
$$;

-- A member's grid and community follow its building, or its home point when it has none.
CREATE FUNCTION link_members(area geometry DEFAULT NULL) RETURNS integer LANGUAGE sql AS $$
  WITH homed AS MATERIALIZED (
    SELECT id, geom, building_at(geom) AS building_id FROM members WHERE near_area(geom, area)
  ), placed AS MATERIALIZED (
    SELECT h.id, h.building_id,
           CASE WHEN h.building_id IS NULL THEN grid_at(h.geom) ELSE b.grid_id END AS grid_id,
           CASE WHEN h.building_id IS NULL THEN community_at(h.geom) ELSE b.community_id END AS community_id
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

CREATE FUNCTION link_issues(area geometry DEFAULT NULL) RETURNS integer LANGUAGE sql AS $$
  WITH placed AS MATERIALIZED (
    SELECT id, grid_at(geom) AS grid_id, community_at(geom) AS community_id FROM issues WHERE near_area(geom, area)
  ), changed AS (
    UPDATE issues i SET grid_id = placed.grid_id, community_id = placed.community_id
    FROM placed
    WHERE placed.id = i.id AND (i.grid_id, i.community_id) IS DISTINCT FROM (placed.grid_id, placed.community_id)
    RETURNING 1
  )
  SELECT count(*)::integer FROM changed
$$;

CREATE FUNCTION link_units(area geometry DEFAULT NULL) RETURNS integer LANGUAGE sql AS $$
  WITH placed AS MATERIALIZED (
    SELECT id, community_at(ST_PointOnSurface(geom)) AS community_id FROM units WHERE near_area(geom, area)
  ), changed AS (
    UPDATE units u SET community_id = placed.community_id
    FROM placed
    WHERE placed.id = u.id AND u.community_id IS DISTINCT FROM placed.community_id
    RETURNING 1
  )
  SELECT count(*)::integer FROM changed
$$;
