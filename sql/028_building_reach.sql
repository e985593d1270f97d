-- What coverage counts, kept as the map is written (sql/schema/09_reach.sql) so that a city's coverage is a
-- sum over a few rows per area instead of a probe around every building and a pass over every member.
-- Derived tables: not audited, no version of their own.

-- Each building's nearest available volunteer within reach_cap_m() (5 km, coverage's largest reach), and
-- the building's figures coverage sums (as in buildings: kept equal by its triggers), so that reach over an
-- area is one index scan here, without a join. Exact for any reach up to the cap, for every role.
CREATE TABLE building_reach (
  building_id     integer PRIMARY KEY REFERENCES buildings (id) ON DELETE CASCADE,
  home            geography(Point, 4326) NOT NULL, -- where its households are: a point on its footprint
  volunteer_id    integer,                         -- NULL: no available volunteer within the cap
  metres          float8,                          -- on the spheroid, from home to where the volunteer is
  disc            geometry NOT NULL,               -- a box around home holding every place nearer than its volunteer (the cap when none)
  grid_id         integer,
  community_id    integer,
  kind            text NOT NULL,
  households      integer NOT NULL,
  residents       integer NOT NULL,
  has_party_group boolean NOT NULL
);
-- the buildings a volunteer who leaves was nearest to
CREATE INDEX building_reach_volunteer_idx ON building_reach (volunteer_id);
-- the buildings an arriving volunteer may be nearer to than their own: those whose disc holds it
CREATE INDEX building_reach_disc_idx ON building_reach USING gist (disc);
CREATE INDEX building_reach_grid_idx ON building_reach (grid_id);
CREATE INDEX building_reach_community_idx ON building_reach (community_id);
-- volunteers were placed at their hexagon's centre for those who may not locate them; reach is exact now
DROP INDEX members_available_volunteer_cells_idx;
DROP FUNCTION hexagon_centre(geometry, float8);

-- Members counted per community and grid they are linked to (either may be NULL), as coverage counts them;
-- homes: their buildings, and each member in none (MIN_HOMES_COUNTED, server/access/policy.ts). A building
-- lies in one grid and community, so homes add up over grids and communities.
CREATE TABLE member_counts (
  community_id         integer,
  grid_id              integer,
  members              integer NOT NULL,
  members_in_service   integer NOT NULL,
  members_retired      integer NOT NULL,
  members_floating     integer NOT NULL,
  members_resident     integer NOT NULL,
  volunteers           integer NOT NULL,
  volunteers_available integer NOT NULL,
  central_households   integer NOT NULL,
  homes                integer NOT NULL
);
CREATE UNIQUE INDEX member_counts_key ON member_counts (community_id, grid_id) NULLS NOT DISTINCT;
CREATE INDEX member_counts_grid_idx ON member_counts (grid_id);
