-- Derived links: where a thing is decides which building, grid and community it belongs to.
-- The *_at functions answer "what is here"; the link_* functions recompute the stored links of every row
-- that lies in `area` (all rows when it is NULL), touching only rows whose links change, and return how
-- many changed. Links follow geometry inside the same transaction: a row that is placed or moved gets its
-- own links at once (place_*, BEFORE row triggers); a footprint or boundary that appears, moves or vanishes
-- relinks what lies around it (changed_area, AFTER statement triggers, one pass per statement however many
-- rows it wrote). A thing in no grid keeps grid_id NULL (it is listed as unassigned, never dropped).

CREATE OR REPLACE FUNCTION grid_at(pt geometry) RETURNS integer LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT id FROM grids WHERE ST_Intersects(geom, pt) ORDER BY id LIMIT 1
$$;

CREATE OR REPLACE FUNCTION community_at(pt geometry) RETURNS integer LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT id FROM communities WHERE ST_Intersects(geom, pt) ORDER BY id LIMIT 1
$$;

-- The footprint that contains a home point, else the nearest within 30 m: the index finds the footprints
-- in a box 0.0006° around the point (over 30 m in every direction below 60° latitude), metres on the
-- spheroid decide among them.
CREATE OR REPLACE FUNCTION building_at(pt geometry) RETURNS integer LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT coalesce(
    (SELECT id FROM buildings WHERE ST_Intersects(geom, pt) ORDER BY id LIMIT 1),
    (SELECT id FROM buildings
      WHERE geom && ST_Expand(pt, 0.0006) AND ST_DWithin(geom::geography, pt::geography, 30)
      ORDER BY ST_Distance(geom::geography, pt::geography), id LIMIT 1))
$$;

-- Where a home point belongs: the footprint that holds it (building_at), with that building's grid and
-- community, else the grid and community of the point itself. (OFFSET 0: building_at runs once, not once per use.)
CREATE OR REPLACE FUNCTION member_links(pt geometry) RETURNS TABLE (building_id integer, grid_id integer, community_id integer)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT k.id, CASE WHEN k.id IS NULL THEN grid_at(pt) ELSE b.grid_id END,
         CASE WHEN k.id IS NULL THEN community_at(pt) ELSE b.community_id END
  FROM (SELECT building_at(pt) AS id OFFSET 0) k LEFT JOIN buildings b ON b.id = k.id
$$;

-- The ids of the rows of `rows` whose links may change when `area` changes (all of them when it is NULL):
-- within 0.001° (over 30 m below 70° latitude) of one of its parts' boxes, so that a member whose nearest
-- footprint moved is found too. Part by part through the table's spatial index: an import's scattered
-- footprints relink what lies around each, not everything inside the box that holds them all.
CREATE OR REPLACE FUNCTION near_ids(rows regclass, area geometry) RETURNS SETOF integer LANGUAGE plpgsql STABLE ROWS 100 AS $$
BEGIN
  IF area IS NULL THEN
    RETURN QUERY EXECUTE format('SELECT id FROM %s', rows);
  ELSE
    RETURN QUERY EXECUTE format('SELECT DISTINCT r.id FROM ST_Dump($1) d JOIN %s r ON r.geom && ST_Expand(d.geom, 0.001)', rows) USING area;
  END IF;
END $$;

-- The CTEs are MATERIALIZED so that each look-up runs once per row, not once per use.
CREATE OR REPLACE FUNCTION link_buildings(area geometry DEFAULT NULL) RETURNS integer LANGUAGE sql AS $$
  WITH placed AS MATERIALIZED (
    SELECT id, grid_at(p) AS grid_id, community_at(p) AS community_id
    FROM (SELECT id, ST_PointOnSurface(geom) AS p FROM near_ids('buildings', area) n(id) JOIN buildings USING (id)) b
  ), changed AS (
    UPDATE buildings b SET grid_id = placed.grid_id, community_id = placed.community_id
    FROM placed
    WHERE placed.id = b.id AND (b.grid_id, b.community_id) IS DISTINCT FROM (placed.grid_id, placed.community_id)
    RETURNING 1
  )
  SELECT count(*)::integer FROM changed
$$;

-- A member's grid and community follow its building, or its home point when it has none.
CREATE OR REPLACE FUNCTION link_members(area geometry DEFAULT NULL) RETURNS integer LANGUAGE sql AS $$
  WITH placed AS MATERIALIZED (
    SELECT m.id, l.building_id, l.grid_id, l.community_id
    FROM near_ids('members', area) n(id) JOIN members m USING (id) CROSS JOIN LATERAL member_links(m.geom) l
  ), changed AS (
    UPDATE members m SET building_id = placed.building_id, grid_id = placed.grid_id, community_id = placed.community_id
    FROM placed
    WHERE placed.id = m.id
      AND (m.building_id, m.grid_id, m.community_id) IS DISTINCT FROM (placed.building_id, placed.grid_id, placed.community_id)
    RETURNING 1
  )
  SELECT count(*)::integer FROM changed
$$;

-- Members whose home new footprints `ids` may take, each given the first of them and the one it has as
-- building_at ranks them: holding the point before near (within 30 m, on building_at's box), then the lower
-- id among holders, the nearer (then the lower id) among the near. A home its footprint holds can only go
-- to an older footprint that holds it too, which takes no distance; the others are measured. Equal to
-- link_members around the footprints while the members' links were current, at the cost of the pairs
-- close by rather than a look-up among all footprints for every home near one.
CREATE OR REPLACE FUNCTION link_members_to_new_buildings(ids integer[]) RETURNS integer LANGUAGE sql AS $$
  WITH near AS MATERIALIZED (
    SELECT m.id AS member_id, m.geom AS pt, f.id, f.geom, f.grid_id, f.community_id,
           h.id AS had, h.geom AS had_geom, h.grid_id AS had_grid, h.community_id AS had_community,
           coalesce(ST_Intersects(h.geom, m.geom), false) AS held
    FROM buildings f
    JOIN members m ON m.geom && ST_Expand(f.geom, 0.0006) AND m.geom && expand_m(f.geom, 30)
    LEFT JOIN buildings h ON h.id = m.building_id
    WHERE f.id = ANY (ids)
  ), candidates AS (
    SELECT DISTINCT ON (member_id) member_id, pt, had AS id, had_geom AS geom, had_grid AS grid_id, had_community AS community_id
    FROM near WHERE had IS NOT NULL
    UNION ALL
    SELECT member_id, pt, id, geom, grid_id, community_id
    FROM near
    WHERE CASE WHEN held THEN id < had AND ST_Intersects(geom, pt) ELSE ST_DWithin(geom::geography, pt::geography, 30) END
  ), best AS (
    SELECT DISTINCT ON (member_id) member_id, id, grid_id, community_id
    FROM candidates
    ORDER BY member_id, NOT ST_Intersects(geom, pt), CASE WHEN ST_Intersects(geom, pt) THEN 0 ELSE ST_Distance(geom::geography, pt::geography) END, id
  ), changed AS (
    UPDATE members m SET building_id = best.id, grid_id = best.grid_id, community_id = best.community_id
    FROM best
    WHERE m.id = best.member_id AND m.building_id IS DISTINCT FROM best.id
    RETURNING 1
  )
  SELECT count(*)::integer FROM changed
$$;

-- Members in no footprint that lie in `area` get the grid and community of their point.
CREATE OR REPLACE FUNCTION link_members_without_building(area geometry) RETURNS integer LANGUAGE sql AS $$
  WITH placed AS MATERIALIZED (
    SELECT id, grid_at(geom) AS grid_id, community_at(geom) AS community_id
    FROM near_ids('members', area) n(id) JOIN members USING (id) WHERE building_id IS NULL
  ), changed AS (
    UPDATE members m SET grid_id = placed.grid_id, community_id = placed.community_id
    FROM placed
    WHERE placed.id = m.id AND (m.grid_id, m.community_id) IS DISTINCT FROM (placed.grid_id, placed.community_id)
    RETURNING 1
  )
  SELECT count(*)::integer FROM changed
$$;

CREATE OR REPLACE FUNCTION link_issues(area geometry DEFAULT NULL) RETURNS integer LANGUAGE sql AS $$
  WITH placed AS MATERIALIZED (
    SELECT id, grid_at(geom) AS grid_id, community_at(geom) AS community_id FROM near_ids('issues', area) n(id) JOIN issues USING (id)
  ), changed AS (
    UPDATE issues i SET grid_id = placed.grid_id, community_id = placed.community_id
    FROM placed
    WHERE placed.id = i.id AND (i.grid_id, i.community_id) IS DISTINCT FROM (placed.grid_id, placed.community_id)
    RETURNING 1
  )
  SELECT count(*)::integer FROM changed
$$;

CREATE OR REPLACE FUNCTION link_units(area geometry DEFAULT NULL) RETURNS integer LANGUAGE sql AS $$
  WITH placed AS MATERIALIZED (
    SELECT id, community_at(ST_PointOnSurface(geom)) AS community_id FROM near_ids('units', area) n(id) JOIN units USING (id)
  ), changed AS (
    UPDATE units u SET community_id = placed.community_id
    FROM placed
    WHERE placed.id = u.id AND u.community_id IS DISTINCT FROM placed.community_id
    RETURNING 1
  )
  SELECT count(*)::integer FROM changed
$$;

CREATE OR REPLACE FUNCTION place_building() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  p geometry := ST_PointOnSurface(NEW.geom);
BEGIN
  NEW.grid_id := grid_at(p);
  NEW.community_id := community_at(p);
  RETURN NEW;
END $$;
COMMENT ON FUNCTION place_building() IS 'links the building to the grid and community its point on surface lies in';

DROP TRIGGER IF EXISTS place_building ON buildings;
CREATE TRIGGER place_building BEFORE INSERT OR UPDATE OF geom ON buildings
  FOR EACH ROW EXECUTE FUNCTION place_building();

CREATE OR REPLACE FUNCTION place_member() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  SELECT l.building_id, l.grid_id, l.community_id INTO NEW.building_id, NEW.grid_id, NEW.community_id FROM member_links(NEW.geom) l;
  RETURN NEW;
END $$;
COMMENT ON FUNCTION place_member() IS 'links the member to the footprint that holds its home (or the nearest within 30 m), and to that building''s grid and community, else to those of its home point (member_links)';

-- A bulk load (gridmap.bulk_load on, data/load-demo.ts) links its members in the statement that inserts them,
-- with member_links: one pass, without a trigger's call per row.
DROP TRIGGER IF EXISTS place_member ON members;
CREATE TRIGGER place_member BEFORE INSERT OR UPDATE OF geom ON members
  FOR EACH ROW WHEN (current_setting('gridmap.bulk_load', true) IS DISTINCT FROM 'on') EXECUTE FUNCTION place_member();

CREATE OR REPLACE FUNCTION place_issue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.grid_id := grid_at(NEW.geom);
  NEW.community_id := community_at(NEW.geom);
  RETURN NEW;
END $$;
COMMENT ON FUNCTION place_issue() IS 'links the issue to the grid and community its point lies in';

DROP TRIGGER IF EXISTS place_issue ON issues;
CREATE TRIGGER place_issue BEFORE INSERT OR UPDATE OF geom ON issues
  FOR EACH ROW EXECUTE FUNCTION place_issue();

CREATE OR REPLACE FUNCTION place_unit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.community_id := community_at(ST_PointOnSurface(NEW.geom));
  RETURN NEW;
END $$;
COMMENT ON FUNCTION place_unit() IS 'links the unit to the community its point on surface lies in';

DROP TRIGGER IF EXISTS place_unit ON units;
CREATE TRIGGER place_unit BEFORE INSERT OR UPDATE OF geom ON units
  FOR EACH ROW EXECUTE FUNCTION place_unit();

-- New footprints take the homes around them directly (link_members_to_new_buildings). Otherwise the area a
-- statement changed: every inserted or deleted geometry; for an updated boundary the symmetric
-- difference of its two shapes, for a moved footprint both shapes (a footprint relinked in place hands its
-- new links to its members directly). The difference is taken on a fixed grid of a tenth of a millimetre: in full precision GEOS can fail on two shapes that differ by a hair (a boundary redrawn as it
-- is published), which inside the embedded database breaks the trigger instead of raising an error. The area
-- only picks the rows to place again (by a box 100 m larger): no row is missed for the rounding.
CREATE OR REPLACE FUNCTION changed_area() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  area geometry;
BEGIN
  IF TG_OP = 'INSERT' AND TG_TABLE_NAME = 'buildings' THEN
    PERFORM link_members_to_new_buildings(array(SELECT id FROM new_rows));
    RETURN NULL;
  ELSIF TG_OP = 'INSERT' THEN
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
COMMENT ON FUNCTION changed_area() IS 'relinks what lies where the statement changed geometry: units, buildings, issues and members under a boundary, members around a footprint';

DROP TRIGGER IF EXISTS buildings_deleted ON buildings;
CREATE TRIGGER buildings_deleted AFTER DELETE ON buildings REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION changed_area();

DROP TRIGGER IF EXISTS buildings_inserted ON buildings;
CREATE TRIGGER buildings_inserted AFTER INSERT ON buildings REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION changed_area();

DROP TRIGGER IF EXISTS buildings_updated ON buildings;
CREATE TRIGGER buildings_updated AFTER UPDATE ON buildings REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION changed_area();

DROP TRIGGER IF EXISTS communities_deleted ON communities;
CREATE TRIGGER communities_deleted AFTER DELETE ON communities REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION changed_area();

DROP TRIGGER IF EXISTS communities_inserted ON communities;
CREATE TRIGGER communities_inserted AFTER INSERT ON communities REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION changed_area();

DROP TRIGGER IF EXISTS communities_updated ON communities;
CREATE TRIGGER communities_updated AFTER UPDATE ON communities REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION changed_area();

DROP TRIGGER IF EXISTS grids_deleted ON grids;
CREATE TRIGGER grids_deleted AFTER DELETE ON grids REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION changed_area();

DROP TRIGGER IF EXISTS grids_inserted ON grids;
CREATE TRIGGER grids_inserted AFTER INSERT ON grids REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION changed_area();

DROP TRIGGER IF EXISTS grids_updated ON grids;
CREATE TRIGGER grids_updated AFTER UPDATE ON grids REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION changed_area();
