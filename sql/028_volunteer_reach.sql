-- Each building's nearest available volunteer within reach_cap_m() (5 km, coverage's largest reach), kept
-- by the triggers of sql/schema/09_reach.sql as volunteers come, go and move and as footprints are drawn.
-- Coverage reads reach and gaps from it for any distance up to the cap, exactly and for every role, instead
-- of probing around every building on every request. A derived table: not audited, no version of its own.
CREATE TABLE volunteer_reach (
  building_id  integer PRIMARY KEY REFERENCES buildings (id) ON DELETE CASCADE,
  home         geography(Point, 4326) NOT NULL, -- where its households are: a point on its footprint
  volunteer_id integer,                         -- NULL: no available volunteer within the cap
  metres       float8,                          -- on the spheroid, from home to where the volunteer is
  disc         geometry NOT NULL                -- a box around home holding every place nearer than its volunteer (the cap when none)
);
-- the buildings a volunteer who leaves was nearest to
CREATE INDEX volunteer_reach_volunteer_idx ON volunteer_reach (volunteer_id);
-- the buildings an arriving volunteer may be nearer to than their own: those whose disc holds it
CREATE INDEX volunteer_reach_disc_idx ON volunteer_reach USING gist (disc);
-- volunteers were placed at their hexagon's centre for those who may not locate them; reach is exact now
DROP INDEX members_available_volunteer_cells_idx;
