-- Links follow geometry inside the same transaction. A row that is placed or moved gets its own links at
-- once (BEFORE row triggers); a footprint or boundary that appears, moves or vanishes relinks what lies
-- around it (AFTER statement triggers, one pass per statement however many rows it wrote).

CREATE FUNCTION place_building() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  p geometry := ST_PointOnSurface(NEW.geom);
BEGIN
  NEW.grid_id := grid_at(p);
  NEW.community_id := community_at(p);
  RETURN NEW;
END $$;
CREATE TRIGGER place_building BEFORE INSERT OR UPDATE OF geom ON buildings
  FOR EACH ROW EXECUTE FUNCTION place_building();

CREATE FUNCTION place_member() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.building_id := building_at(NEW.geom);
  IF NEW.building_id IS NULL THEN
    NEW.grid_id := grid_at(NEW.geom);
    NEW.community_id := community_at(NEW.geom);
  ELSE
    SELECT grid_id, community_id INTO NEW.grid_id, NEW.community_id FROM buildings WHERE id = NEW.building_id;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER place_member BEFORE INSERT OR UPDATE OF geom ON members
  FOR EACH ROW EXECUTE FUNCTION place_member();

CREATE FUNCTION place_issue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.grid_id := grid_at(NEW.geom);
  NEW.community_id := community_at(NEW.geom);
  RETURN NEW;
END $$;
CREATE TRIGGER place_issue BEFORE INSERT OR UPDATE OF geom ON issues
  FOR EACH ROW EXECUTE FUNCTION place_issue();

CREATE FUNCTION place_unit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.community_id := community_at(ST_PointOnSurface(NEW.geom));
  RETURN NEW;
END $$;
CREATE TRIGGER place_unit BEFORE INSERT OR UPDATE OF geom ON units
  FOR EACH ROW EXECUTE FUNCTION place_unit();

-- The area a statement changed: every inserted or deleted geometry, and both shapes of every row whose
-- geometry (or, for buildings, links) an update changed. NULL when nothing spatial changed.
CREATE FUNCTION changed_area() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  area geometry;
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT ST_Collect(geom) INTO area FROM new_rows;
  ELSIF TG_OP = 'DELETE' THEN
    SELECT ST_Collect(geom) INTO area FROM old_rows;
  ELSIF TG_TABLE_NAME = 'buildings' THEN
    SELECT ST_Collect(ARRAY[o.geom, n.geom]) INTO area
    FROM old_rows o JOIN new_rows n ON n.id = o.id
    WHERE NOT ST_Equals(o.geom, n.geom) OR (o.grid_id, o.community_id) IS DISTINCT FROM (n.grid_id, n.community_id);
  ELSE
    SELECT ST_Collect(ARRAY[o.geom, n.geom]) INTO area
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
  -- What lies in a changed area follows it.
  IF TG_TABLE_NAME = 'communities' THEN
    PERFORM link_units(area);
  END IF;
  IF TG_TABLE_NAME IN ('communities', 'grids') THEN
    PERFORM link_buildings(area);
    PERFORM link_issues(area);
  END IF;
  PERFORM link_members(area);
  RETURN NULL;
END $$;

-- buildings_inserted, buildings_updated, buildings_deleted, grids_inserted, … communities_deleted
DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['buildings', 'grids', 'communities'] LOOP
    EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %I REFERENCING NEW TABLE AS new_rows
                    FOR EACH STATEMENT EXECUTE FUNCTION changed_area()', t || '_inserted', t);
    EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %I REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
                    FOR EACH STATEMENT EXECUTE FUNCTION changed_area()', t || '_updated', t);
    EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON %I REFERENCING OLD TABLE AS old_rows
                    FOR EACH STATEMENT EXECUTE FUNCTION changed_area()', t || '_deleted', t);
  END LOOP;
END $$;
