-- Every map row carries a version that changes with each update (its ETag, for If-Match), and its
-- updated_at, both kept by the database itself so no writer can forget them. A relink by PostGIS counts as
-- a change too: the row a client holds no longer says what is stored.
CREATE FUNCTION next_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.version := OLD.version + 1;
  NEW.updated_at := now();
  RETURN NEW;
END $$;

DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['communities', 'grids', 'buildings', 'members', 'units', 'issues'] LOOP
    EXECUTE format('ALTER TABLE %I ADD COLUMN version integer NOT NULL DEFAULT 1', t);
    EXECUTE format('CREATE TRIGGER next_version BEFORE UPDATE ON %I FOR EACH ROW EXECUTE FUNCTION next_version()', t);
  END LOOP;
END $$;

-- The community Party committee (社区大党委) that leads the community's grids.
ALTER TABLE communities
  ADD COLUMN party_committee_name text,
  ADD COLUMN party_committee_secretary text;

-- GeoJSON in, geometry as stored: WGS 84, 2D, repeated points dropped, outer rings counter-clockwise
-- (RFC 7946), and a polygon made a multipolygon where the column wants one.
CREATE FUNCTION normalized_geometry(geojson text, multi boolean DEFAULT false) RETURNS geometry
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN multi THEN ST_Multi(g) ELSE g END
  FROM (SELECT ST_ForcePolygonCCW(ST_RemoveRepeatedPoints(ST_Force2D(ST_SetSRID(ST_GeomFromGeoJSON(geojson), 4326)))) AS g) n
$$;
