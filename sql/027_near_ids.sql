-- near_area (a row-by-row test against the box of everything a statement wrote) gives way to near_ids in
-- sql/schema/02_links.sql, which finds the rows around each part through the spatial index.
DROP FUNCTION IF EXISTS near_area(geometry, geometry);
