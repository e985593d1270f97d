-- Each building's nearest available volunteer within reach_cap_m() (5 km, coverage's largest reach), kept
-- by the triggers of sql/schema/09_reach.sql as volunteers come, go and move and as footprints are drawn.
-- Coverage reads reach and gaps from it for any distance up to the cap, exactly and for every role, instead
-- of probing around every building on every request. A derived table: not audited, no version of its own.
CREATE TABLE volunteer_reach (
  building_id  integer PRIMARY KEY REFERENCES buildings (id) ON DELETE CASCADE,
  volunteer_id integer,   -- NULL: no available volunteer within the cap
  metres       float8     -- on the spheroid, from the building's point on surface to where the volunteer is
);
-- the buildings a volunteer who leaves was nearest to
CREATE INDEX volunteer_reach_volunteer_idx ON volunteer_reach (volunteer_id);
-- the buildings an arriving volunteer over a kilometre away may be nearer to than their own
CREATE INDEX volunteer_reach_far_idx ON volunteer_reach (building_id) WHERE volunteer_id IS NULL OR metres > 1000;
-- where each building's households are, for "the buildings within a kilometre of an arriving volunteer"
CREATE INDEX buildings_home_idx ON buildings USING gist ((ST_PointOnSurface(geom)::geography));
-- volunteers were placed at their hexagon's centre for those who may not locate them; reach is exact now
DROP INDEX members_available_volunteer_cells_idx;
