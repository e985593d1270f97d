-- Each building's nearest available volunteer (building_reach, sql/028_building_reach.sql), kept exact
-- within the cap as volunteers come, go and move and as footprints are drawn. A volunteer is where it says it
-- is now, else at home (as dispatch finds volunteers, on the same index); a building's households at a point
-- on its footprint. Distances on the spheroid. A bulk load may set gridmap.bulk_load to on for its
-- transaction and call refresh_reach on every building and recount_members() at its end (data/load-demo.ts):
-- one search per building instead of one per batch of volunteers.

-- Coverage's largest reach (MAX_REACH_M in server/features/coverage/routes.ts): nearer volunteers are kept.
CREATE OR REPLACE FUNCTION reach_cap_m() RETURNS float8 LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT 5000::float8 $$;

-- The nearest available volunteer of each building of `ids`, written to building_reach: the index's nearest
-- (on the sphere) bounds the search, then the nearest on the spheroid within a metre over that (ST_DWithin and
-- ST_Distance round apart), the lower id among equals; none when it is beyond the cap.
CREATE OR REPLACE FUNCTION refresh_reach(ids integer[]) RETURNS void LANGUAGE sql AS $$
  INSERT INTO building_reach AS r (building_id, home, volunteer_id, metres, disc, grid_id, community_id, kind, households, residents, has_party_group)
  SELECT b.id, h.at, n.id, n.metres, expand_m(h.at::geometry, coalesce(n.metres, reach_cap_m())),
         b.grid_id, b.community_id, b.kind, b.households, b.residents, b.has_party_group
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
  ON CONFLICT (building_id) DO UPDATE SET home = excluded.home, volunteer_id = excluded.volunteer_id, metres = excluded.metres, disc = excluded.disc,
    grid_id = excluded.grid_id, community_id = excluded.community_id, kind = excluded.kind, households = excluded.households,
    residents = excluded.residents, has_party_group = excluded.has_party_group
    WHERE (r.home, r.volunteer_id, r.metres, r.grid_id, r.community_id, r.kind, r.households, r.residents, r.has_party_group)
      IS DISTINCT FROM (excluded.home, excluded.volunteer_id, excluded.metres, excluded.grid_id, excluded.community_id, excluded.kind,
                        excluded.households, excluded.residents, excluded.has_party_group)
$$;

-- Volunteers `ids` now available where they are: the buildings they are nearer to than to their own, which
-- are those whose disc holds one (on the index). A few arrivals are each measured against those buildings;
-- many (an import) have those around the box that holds them all searched for again, one search each
-- rather than one distance per arrival and building (which, while few volunteers cover the city, is many).
CREATE OR REPLACE FUNCTION reach_arrivals(ids integer[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  box geometry;
BEGIN
  IF cardinality(ids) <= 64 THEN
    WITH v AS (
      SELECT id, coalesce(current_point, geom) AS at FROM members WHERE id = ANY (ids)
    ), best AS (
      SELECT DISTINCT ON (r.building_id) r.building_id, v.id, ST_Distance(v.at::geography, r.home) AS metres
      FROM v JOIN building_reach r ON r.disc && v.at
      ORDER BY r.building_id, 3, v.id
    )
    UPDATE building_reach r SET volunteer_id = best.id, metres = best.metres, disc = expand_m(r.home::geometry, best.metres)
    FROM best
    WHERE r.building_id = best.building_id AND best.metres <= reach_cap_m()
      AND (r.volunteer_id IS NULL OR (best.metres, best.id) < (r.metres, r.volunteer_id));
  ELSE
    SELECT ST_Extent(coalesce(current_point, geom))::geometry INTO box FROM members WHERE id = ANY (ids);
    PERFORM refresh_reach(array(SELECT building_id FROM building_reach WHERE disc && box));
  END IF;
END $$;

CREATE OR REPLACE FUNCTION members_reach() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  departed integer[];
  arrived integer[];
BEGIN
  IF current_setting('gridmap.bulk_load', true) = 'on' THEN
    RETURN NULL;
  END IF;
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
    PERFORM refresh_reach(array(SELECT building_id FROM building_reach WHERE volunteer_id = ANY (departed)));
  END IF;
  IF arrived IS NOT NULL THEN
    PERFORM reach_arrivals(arrived);
  END IF;
  RETURN NULL;
END $$;
COMMENT ON FUNCTION members_reach() IS 'keeps each building''s nearest available volunteer (building_reach) as volunteers come, go, move or change availability';

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
  IF current_setting('gridmap.bulk_load', true) = 'on' THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'INSERT' THEN
    PERFORM refresh_reach(array(SELECT id FROM new_rows));
  ELSE
    PERFORM refresh_reach(array(SELECT n.id FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE o.geom IS DISTINCT FROM n.geom));
    UPDATE building_reach r
    SET grid_id = n.grid_id, community_id = n.community_id, kind = n.kind, households = n.households, residents = n.residents,
        has_party_group = n.has_party_group
    FROM new_rows n
    WHERE r.building_id = n.id
      AND (r.grid_id, r.community_id, r.kind, r.households, r.residents, r.has_party_group)
          IS DISTINCT FROM (n.grid_id, n.community_id, n.kind, n.households, n.residents, n.has_party_group);
  END IF;
  RETURN NULL;
END $$;
COMMENT ON FUNCTION buildings_reach() IS 'finds the nearest available volunteer of each footprint drawn or moved, and keeps the building''s figures coverage sums (building_reach)';

DROP TRIGGER IF EXISTS buildings_reach_inserted ON buildings;
CREATE TRIGGER buildings_reach_inserted AFTER INSERT ON buildings REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION buildings_reach();
DROP TRIGGER IF EXISTS buildings_reach_updated ON buildings;
CREATE TRIGGER buildings_reach_updated AFTER UPDATE ON buildings REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION buildings_reach();

-- The member counts of the (community, grid) pairs given, or of all when none are, counted again from members
-- (one index scan per pair: a pair is a grid's members or a community's members outside any grid).
CREATE OR REPLACE FUNCTION recount_members(community_ids integer[] DEFAULT NULL, grid_ids integer[] DEFAULT NULL) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF community_ids IS NULL AND grid_ids IS NULL THEN
    DELETE FROM member_counts;
    SELECT array_agg(community_id), array_agg(grid_id) INTO community_ids, grid_ids
    FROM (SELECT DISTINCT community_id, grid_id FROM members) k;
  ELSE
    DELETE FROM member_counts c USING unnest(community_ids, grid_ids) k(community_id, grid_id)
    WHERE c.community_id IS NOT DISTINCT FROM k.community_id AND c.grid_id IS NOT DISTINCT FROM k.grid_id;
  END IF;
  INSERT INTO member_counts
  SELECT k.community_id, k.grid_id, n.*
  FROM (SELECT DISTINCT community_id, grid_id FROM unnest(community_ids, grid_ids) k(community_id, grid_id)
        WHERE community_id IS NOT NULL OR grid_id IS NOT NULL) k
  CROSS JOIN LATERAL (
    SELECT count(*)::int AS members, count(*) FILTER (WHERE category = 'in_service')::int, count(*) FILTER (WHERE category = 'retired')::int,
           count(*) FILTER (WHERE category = 'floating')::int, count(*) FILTER (WHERE category = 'resident')::int,
           count(*) FILTER (WHERE is_volunteer)::int, count(*) FILTER (WHERE is_volunteer AND availability = 'available')::int,
           count(*) FILTER (WHERE is_central_household)::int, count(DISTINCT coalesce(building_id, -id))::int
    FROM members m
    WHERE (k.grid_id IS NOT NULL AND m.grid_id = k.grid_id AND m.community_id IS NOT DISTINCT FROM k.community_id)
       OR (k.grid_id IS NULL AND m.community_id = k.community_id AND m.grid_id IS NULL)) n
  WHERE n.members > 0;
END $$;

CREATE OR REPLACE FUNCTION members_counted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  community_ids integer[];
  grid_ids integer[];
BEGIN
  IF current_setting('gridmap.bulk_load', true) = 'on' THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'INSERT' THEN
    SELECT array_agg(community_id), array_agg(grid_id) INTO community_ids, grid_ids FROM (SELECT DISTINCT community_id, grid_id FROM new_rows) k;
  ELSIF TG_OP = 'DELETE' THEN
    SELECT array_agg(community_id), array_agg(grid_id) INTO community_ids, grid_ids FROM (SELECT DISTINCT community_id, grid_id FROM old_rows) k;
  ELSE
    WITH changed AS (
      SELECT o.community_id AS old_community, o.grid_id AS old_grid, n.community_id, n.grid_id
      FROM old_rows o JOIN new_rows n ON n.id = o.id
      WHERE (o.category, o.is_volunteer, o.availability, o.is_central_household, o.building_id, o.grid_id, o.community_id)
            IS DISTINCT FROM (n.category, n.is_volunteer, n.availability, n.is_central_household, n.building_id, n.grid_id, n.community_id)
    )
    SELECT array_agg(community_id), array_agg(grid_id) INTO community_ids, grid_ids
    FROM (SELECT old_community AS community_id, old_grid AS grid_id FROM changed UNION SELECT community_id, grid_id FROM changed) k;
  END IF;
  IF community_ids IS NOT NULL THEN
    PERFORM recount_members(community_ids, grid_ids);
  END IF;
  RETURN NULL;
END $$;
COMMENT ON FUNCTION members_counted() IS 'counts again the members of each community and grid a statement changed (member_counts)';

DROP TRIGGER IF EXISTS members_counted_inserted ON members;
CREATE TRIGGER members_counted_inserted AFTER INSERT ON members REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION members_counted();
DROP TRIGGER IF EXISTS members_counted_updated ON members;
CREATE TRIGGER members_counted_updated AFTER UPDATE ON members REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION members_counted();
DROP TRIGGER IF EXISTS members_counted_deleted ON members;
CREATE TRIGGER members_counted_deleted AFTER DELETE ON members REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION members_counted();

-- Every building has its row (those drawn before the table was), and the members their counts.
SELECT refresh_reach(array(SELECT b.id FROM buildings b WHERE NOT EXISTS (SELECT FROM building_reach r WHERE r.building_id = b.id)));
SELECT recount_members() WHERE NOT EXISTS (SELECT FROM member_counts) AND EXISTS (SELECT FROM members);
