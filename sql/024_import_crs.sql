-- A geometry from an imported file, GeoJSON or WKT text, in the file's coordinate system, as WGS 84 GeoJSON at
-- full precision (15 digits): transformed from an SRID PostGIS knows, or from a .prj's own WKT that PROJ reads,
-- or neither (already longitude/latitude). NULL for what PostGIS cannot read or transform, so one bad row is
-- reported, not fatal. Replaces geojson_from_text (006), its WKT-only, WGS 84-only first form.
CREATE FUNCTION geojson_wgs84(source text, is_wkt boolean, from_srid integer, from_proj text) RETURNS json LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  g geometry;
BEGIN
  g := CASE WHEN is_wkt THEN ST_GeomFromText(source) ELSE ST_GeomFromGeoJSON(source) END;
  IF from_proj IS NOT NULL THEN
    g := ST_Transform(ST_SetSRID(g, 0), from_proj, 4326);
  ELSIF from_srid IS NOT NULL AND from_srid <> 4326 THEN
    g := ST_Transform(ST_SetSRID(g, from_srid), 4326);
  END IF;
  RETURN ST_AsGeoJSON(ST_SetSRID(g, 4326), 15)::json;
EXCEPTION WHEN others THEN
  RETURN NULL;
END $$;

DROP FUNCTION geojson_from_text(text);
