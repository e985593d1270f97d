-- Where a volunteer is placed for those who may not see where it is (coverage's reach and gaps,
-- server/features/coverage/queries.ts): the centre of its cell on the hexagon lattice the members' and
-- volunteers' tiles count in (ST_HexagonGrid: flat-topped cells of edge 300 m of Web Mercator, column i
-- centred at 1.5·edge·i, odd columns raised half a cell, anchored at the origin), in WGS 84. A distance from
-- a point one chooses is a position: measured to the cell, reach and gaps tell no more than the tiles.
CREATE FUNCTION hexagon_centre(p geometry, edge float8 DEFAULT 300) RETURNS geometry
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT ST_Transform(ST_SetSRID(ST_MakePoint(c.x, c.y), 3857), 4326)
  FROM (SELECT ST_X(m) AS x, ST_Y(m) AS y FROM (SELECT ST_Transform(p, 3857) AS m) t) q,
  LATERAL (
    -- the nearest centre is the cell's: in the column at or just west of the point, or the next east
    SELECT 1.5 * edge * i AS x,
           edge * sqrt(3) * (round((q.y - (i & 1) * edge * sqrt(3) / 2) / (edge * sqrt(3))) + (i & 1) / 2.0) AS y
    FROM (VALUES (floor(q.x / (1.5 * edge))::bigint), (floor(q.x / (1.5 * edge))::bigint + 1)) col(i)
  ) c
  ORDER BY (q.x - c.x) ^ 2 + (q.y - c.y) ^ 2
  LIMIT 1
$$;
