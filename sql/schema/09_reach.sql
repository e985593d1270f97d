-- Each building's nearest available volunteer (volunteer_reach, sql/028_volunteer_reach.sql), kept exact
-- within the cap as volunteers come, go and move and as footprints are drawn. A volunteer is where it says it
-- is now, else at home (as dispatch finds volunteers, on the same index); a building's households at a point
-- on its footprint (on buildings_home_idx). Distances on the spheroid.

-- Coverage's largest reach (MAX_REACH_M in server/features/coverage/routes.ts): nearer volunteers are kept.
CREATE OR REPLACE FUNCTION reach_cap_m() RETURNS float8 LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT 5000::float8 $$;

-- `g` grown by at least `m` metres in every direction (a degree of latitude is over 110 km; of longitude, over
-- 110 km times the cosine of the latitude): a box for an index to find what lies within m of g.
CREATE OR REPLACE FUNCTION expand_m(g geometry, m float8) RETURNS geometry LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT ST_Expand(g, m / (110000 * cos(radians(least(89, greatest(abs(ST_YMin(g)), abs(ST_YMax(g))) + m / 110000)))), m / 110000)
$$;

-- The nearest available volunteer of each building of `ids`, written to volunteer_reach: the index's nearest
-- (on the sphere) bounds the search, then the nearest on the spheroid within a metre over that (ST_DWithin and
-- ST_Distance round apart), the lower id among equals; none when it is beyond the cap.
CREATE OR REPLACE FUNCTION refresh_reach(ids integer[]) RETURNS void LANGUAGE sql AS $$
  INSERT INTO volunteer_reach AS r (building_id, volunteer_id, metres)
  SELECT b.id, n.id, n.metres
  FROM buildings b
  CROSS JOIN LATERAL (SELECT ST_PointOnSurface(b.geom)::geography AS at) h
  LEFT JOIN LATERAL (
    SELECT ST_Distance(coalesce(v.current_point, v.geom)::geography, h.at) AS metres
    FROM members v WHERE v.is_volunteer AND v.availability = 'available'
    ORDER BY coalesce(v.current_point, v.geom)::geography <-> h.at LIMIT 1) bound ON true
  LEFT JOIN LATERAL (
    SELECT v.id, ST_Distance(coalesce(v.current_point, v.geom)::geography, h.at) AS metres
    FROM members v WHERE v.is_volunteer AND v.availability = 'available'
      AND ST_DWithin(coalesce(v.current_point, v.geom)::geography, h.at, least(bound.metres, reach_cap_m()) + 1)
    ORDER BY 2, 1 LIMIT 1) n ON n.metres <= reach_cap_m()
  WHERE b.id = ANY (ids)
  ON CONFLICT (building_id) DO UPDATE SET volunteer_id = excluded.volunteer_id, metres = excluded.metres
    WHERE (r.volunteer_id, r.metres) IS DISTINCT FROM (excluded.volunteer_id, excluded.metres)
$$;

-- Volunteers `ids` now available where they are: the buildings they are nearer to than to their own. Such a
-- building is within its own distance of one: within a kilometre, or among those whose volunteer is further
-- (or none) within the cap. A few arrivals are each measured against those; many (a load, an import) refresh
-- every building those could be, around the box that holds them all, from the index.
CREATE OR REPLACE FUNCTION reach_arrivals(ids integer[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  box geometry;
BEGIN
  IF cardinality(ids) <= 16 THEN
    WITH v AS (
      SELECT id, coalesce(current_point, geom)::geography AS at FROM members WHERE id = ANY (ids)
    ), candidate AS (
      SELECT b.id AS building_id, v.id, ST_Distance(v.at, ST_PointOnSurface(b.geom)::geography) AS metres
      FROM v JOIN buildings b ON ST_DWithin(ST_PointOnSurface(b.geom)::geography, v.at, 1001)
      UNION
      SELECT b.id, v.id, ST_Distance(v.at, ST_PointOnSurface(b.geom)::geography)
      FROM v CROSS JOIN volunteer_reach r JOIN buildings b ON b.id = r.building_id
      WHERE (r.volunteer_id IS NULL OR r.metres > 1000) AND ST_DWithin(ST_PointOnSurface(b.geom)::geography, v.at, reach_cap_m() + 1)
    ), best AS (
      SELECT DISTINCT ON (building_id) * FROM candidate WHERE metres <= reach_cap_m() ORDER BY building_id, metres, id
    )
    UPDATE volunteer_reach r SET volunteer_id = best.id, metres = best.metres FROM best
    WHERE r.building_id = best.building_id AND (r.volunteer_id IS NULL OR (best.metres, best.id) < (r.metres, r.volunteer_id));
  ELSE
    SELECT ST_Extent(coalesce(current_point, geom))::geometry INTO box FROM members WHERE id = ANY (ids);
    PERFORM refresh_reach(array(
      SELECT b.id FROM buildings b WHERE b.geom && expand_m(box, 1001)
      UNION
      SELECT b.id FROM volunteer_reach r JOIN buildings b ON b.id = r.building_id
      WHERE (r.volunteer_id IS NULL OR r.metres > 1000) AND b.geom && expand_m(box, reach_cap_m() + 1)));
  END IF;
END $$;

CREATE OR REPLACE FUNCTION members_reach() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  departed integer[];
  arrived integer[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT array_agg(id) INTO arrived FROM new_rows WHERE is_volunteer AND availability = 'available';
  ELSIF TG_OP = 'DELETE' THEN
    SELECT array_agg(id) INTO departed FROM old_rows WHERE is_volunteer AND availability = 'available';
  ELSE
    SELECT array_agg(o.id) FILTER (WHERE o.is_volunteer AND o.availability = 'available'),
           array_agg(n.id) FILTER (WHERE n.is_volunteer AND n.availability = 'available')
    INTO departed, arrived
    FROM old_rows o JOIN new_rows n ON n.id = o.id
    WHERE (o.is_volunteer AND o.availability = 'available') IS DISTINCT FROM (n.is_volunteer AND n.availability = 'available')
       OR coalesce(o.current_point, o.geom) IS DISTINCT FROM coalesce(n.current_point, n.geom);
  END IF;
  -- who lost their volunteer first, from the index as it now stands; then who is nearer to one that came
  IF departed IS NOT NULL THEN
    PERFORM refresh_reach(array(SELECT building_id FROM volunteer_reach WHERE volunteer_id = ANY (departed)));
  END IF;
  IF arrived IS NOT NULL THEN
    PERFORM reach_arrivals(arrived);
  END IF;
  RETURN NULL;
END $$;
COMMENT ON FUNCTION members_reach() IS 'keeps each building''s nearest available volunteer (volunteer_reach) as volunteers come, go, move or change availability';

DROP TRIGGER IF EXISTS members_reach_inserted ON members;
CREATE TRIGGER members_reach_inserted AFTER INSERT ON members REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION members_reach();
DROP TRIGGER IF EXISTS members_reach_updated ON members;
CREATE TRIGGER members_reach_updated AFTER UPDATE ON members REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION members_reach();
DROP TRIGGER IF EXISTS members_reach_deleted ON members;
CREATE TRIGGER members_reach_deleted AFTER DELETE ON members REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION members_reach();

CREATE OR REPLACE FUNCTION buildings_reach() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM refresh_reach(array(SELECT id FROM new_rows));
  ELSE
    PERFORM refresh_reach(array(SELECT n.id FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE o.geom IS DISTINCT FROM n.geom));
  END IF;
  RETURN NULL;
END $$;
COMMENT ON FUNCTION buildings_reach() IS 'finds the nearest available volunteer of each footprint drawn or moved (volunteer_reach)';

DROP TRIGGER IF EXISTS buildings_reach_inserted ON buildings;
CREATE TRIGGER buildings_reach_inserted AFTER INSERT ON buildings REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION buildings_reach();
DROP TRIGGER IF EXISTS buildings_reach_updated ON buildings;
CREATE TRIGGER buildings_reach_updated AFTER UPDATE ON buildings REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION buildings_reach();

-- Every building has its row: those drawn before this table (or while its triggers were being replaced).
SELECT refresh_reach(array(SELECT b.id FROM buildings b WHERE NOT EXISTS (SELECT FROM volunteer_reach r WHERE r.building_id = b.id)));
