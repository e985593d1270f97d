-- WKT from an imported file: NULL for text PostGIS cannot read, so one bad row is reported, not fatal.
CREATE FUNCTION try_geom_from_text(wkt text) RETURNS geometry LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  RETURN ST_SetSRID(ST_GeomFromText(wkt), 4326);
EXCEPTION WHEN others THEN
  RETURN NULL;
END $$;
