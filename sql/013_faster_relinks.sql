-- Relinking does only what a change can alter (a planner's dry run is the write it rolls back: 90 % of its
-- time was these triggers placing again every member in the box around two grids), and around every row of
-- an update: 004's ST_Collect(ARRAY[old, new]) is not an aggregate, and SELECT … INTO kept the first row's
-- pair, so a statement moving several boundaries left stale links around the others.
-- * A moved boundary changes hands only where it was and is not: the area is their symmetric difference.
-- * A footprint relinked but not moved keeps its home points: its members take its new grid and community.
-- * A moved boundary never changes which footprint a home point belongs to: only members in no footprint
--   are placed again by their point; the others follow their buildings, through the buildings' trigger.

-- Members in no footprint that lie in `area` get the grid and community of their point.
CREATE FUNCTION link_members_without_building(area geometry) RETURNS integer LANGUAGE sql AS $$
  WITH placed AS MATERIALIZED (
    SELECT id, grid_at(geom) AS grid_id, community_at(geom) AS community_id
    FROM members WHERE building_id IS NULL AND near_area(geom, area)
  ), changed AS (
    UPDATE members m SET grid_id = placed.grid_id, community_id = placed.community_id
    FROM placed
    WHERE placed.id = m.id AND (m.grid_id, m.community_id) IS DISTINCT FROM (placed.grid_id, placed.community_id)
    RETURNING 1
  )
  SELECT count(*)::integer FROM changed
$$;

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
    SELECT ST_Collect(ST_SymDifference(o.geom, n.geom)) INTO area
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
