-- Where an area's name is written on the map (the `<layer>_label` points of the communities' and grids'
-- vector tiles): its centroid when that falls inside it, the middle the eye expects, else a point on its
-- surface (an L or a C has its centroid outside); of its largest part, for a community in several.
CREATE FUNCTION label_point(g geometry) RETURNS geometry LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN ST_Intersects(c, p) THEN c ELSE ST_PointOnSurface(p) END
  FROM (SELECT p, ST_Centroid(p) AS c
        FROM (SELECT d.geom AS p FROM ST_Dump(g) d ORDER BY ST_Area(d.geom) DESC LIMIT 1) largest) s
$$;
