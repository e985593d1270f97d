-- WKT from an imported file as GeoJSON: NULL for text PostGIS cannot read or cannot write as GeoJSON
-- (curves), so one bad row is reported, not fatal.
CREATE FUNCTION geojson_from_text(wkt text) RETURNS json LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  RETURN ST_AsGeoJSON(ST_SetSRID(ST_GeomFromText(wkt), 4326))::json;
EXCEPTION WHEN others THEN
  RETURN NULL;
END $$;
