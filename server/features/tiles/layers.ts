import { sql, type RawBuilder } from 'kysely';
import { countsFewHomes, homesOf, MIN_HOMES_COUNTED, readable, type ResourceName } from '../../access/policy.ts';
import type { Viewer } from '../../access/viewer.ts';
import { districts, streets } from '../areas/resource.ts';
import { buildings } from '../buildings/resource.ts';
import { communities } from '../communities/resource.ts';
import { countsAllMembers, coverageRows, DEFAULT_REACH_M } from '../coverage/queries.ts';
import { grids } from '../grids/resource.ts';
import { issues, overdue } from '../issues/resource.ts';
import { members } from '../members/resource.ts';

/** A vector tile's coordinates; `bounds` is its envelope in Web Mercator (ST_TileEnvelope), `area` in WGS 84
 *  grown by what a feature may reach into it from outside (the buffer, a hexagon), for the && on the index. */
export interface Tile {
  z: number;
  x: number;
  y: number;
  bounds: RawBuilder<unknown>;
  area: RawBuilder<unknown>;
}

type FieldType = 'Number' | 'String' | 'Boolean';

export interface TileLayer {
  name: string;
  description: string;
  /** whose rows it draws, and who may read it */
  resource: ResourceName;
  minzoom: number;
  maxzoom: number;
  /** the attributes, as TileJSON's vector_layers lists them; `fieldsFor`, those a viewer's tiles carry where fewer */
  fields: Record<string, FieldType>;
  fieldsFor?(viewer: Viewer): Record<string, FieldType>;
  /** the rows of the tile: id (null for cells), geom (WGS 84 or Web Mercator, `srid`), props (jsonb) */
  rows(tile: Tile, viewer: Viewer): RawBuilder<unknown>;
  srid: 4326 | 3857;
  /** how far a change reaches into neighbouring tiles' features, in metres of Web Mercator, at zoom z */
  reach(z: number): number;
  /**
   * Areas with a name also get a point each, where the name is written, in a second vector layer
   * (`<name>_label`, LABEL_FIELDS) of the one tile that holds the point: a polygon's own label would be drawn
   * once for every tile it crosses.
   */
  labelled?: boolean;
  /** counts every member: refused to roles that read only volunteers (their hexagons are the volunteers layer) */
  allMembers?: boolean;
  /** coverage metrics: only for those who watch coverage (COVERAGE_READERS), as GET /coverage/grids */
  coverage?: boolean;
}

export const LABEL_FIELDS: Record<string, FieldType> = { code: 'String', name: 'String' };
export const labelLayerName = (layer: TileLayer) => `${layer.name}_label`;

export const MAX_ZOOM = 22;
/** Web Mercator's width, in its metres: a tile at zoom z is this / 2^z wide. */
export const WORLD_3857 = 40075016.685578488;

const number = (names: string[]) => Object.fromEntries(names.map((n) => [n, 'Number' as const]));

/** The attributes of a grid on the map: its names. */
const GRID_NAMES: Record<string, FieldType> = { code: 'String', name: 'String', community_id: 'Number', community_name: 'String' };
/** The metrics counting every member: null for roles that read only volunteers, so not in their tiles. */
const ALL_MEMBER_FIELDS = [
  'members',
  'members_in_service',
  'members_retired',
  'members_floating',
  'members_resident',
  'central_households',
  'members_per_100_households',
];
/** …and on the coverage view's: every coverage metric (server/features/coverage/queries.ts). */
const GRID_FIELDS: Record<string, FieldType> = {
  ...GRID_NAMES,
  household_band: 'String',
  ...number([
    'households',
    'residents',
    'buildings',
    'residential_buildings',
    'party_group_buildings',
    'party_group_share',
    'members',
    'members_in_service',
    'members_retired',
    'members_floating',
    'members_resident',
    'volunteers',
    'volunteers_available',
    'central_households',
    'members_per_100_households',
    'volunteers_per_100_households',
    'households_reached',
    'volunteer_reach',
    'open_issues',
    'overdue_issues',
    'closed_issues',
    'closure_rate',
    'median_days_to_close',
    'band_min',
    'band_max',
  ]),
};

/**
 * Members and volunteers are drawn as counts in hexagons, at every zoom and for every role, all on one
 * lattice (ST_HexagonGrid on Web Mercator, edge 300 m of it: about 420–480 m across at China's latitudes, a
 * few blocks): cells of one zoom never cut those of another, so no combination of zooms narrows a home
 * below a cell. From zoom 10 (a city), where a tile holds a few thousand cells at most.
 */
export const HEX_EDGE = 300;
/** Lattice indices run to ±2^16 (300 m over 40,000 km): offset, they make one positive id. */
const HEX_OFFSET = 2 ** 20;

function density(name: 'members' | 'volunteers', description: string): TileLayer {
  return {
    name,
    description,
    resource: 'members',
    minzoom: 10,
    maxzoom: MAX_ZOOM,
    srid: 3857,
    allMembers: name === 'members',
    fields: name === 'members' ? number(['count', 'volunteers']) : number(['count', 'available']),
    reach: () => 2 * HEX_EDGE,
    // every cell over the tile, clipped to it as any polygon is; a cell's id is its place in the lattice at this zoom
    rows: (tile, viewer) => sql`
      select (h.i + ${HEX_OFFSET}::bigint) * ${2 * HEX_OFFSET} + (h.j + ${HEX_OFFSET}) as id, h.geom,
             jsonb_build_object(${sql.lit(name === 'members' ? 'volunteers' : 'available')},
               count(*) filter (where ${name === 'members' ? sql`m.is_volunteer` : sql`m.availability = 'available'`}), 'count', count(*)) as props
      from ST_HexagonGrid(${HEX_EDGE}, ${tile.bounds}) h
      -- the index finds the members in the cell's box (exact: Web Mercator keeps a box a box), the cell those in it
      join members m on m.geom && ST_Transform(h.geom, 4326) and ST_Intersects(ST_Transform(m.geom, 3857), h.geom)
      where ${name === 'volunteers' ? sql`m.is_volunteer and ` : sql``}${readable('members', members.place, viewer, 'm')}
      group by h.i, h.j, h.geom
      ${countsFewHomes(viewer) ? sql`` : sql`having ${homesOf('m')} >= ${MIN_HOMES_COUNTED}`}`,
  };
}

export const TILE_LAYERS: TileLayer[] = [
  {
    name: 'districts',
    description: 'District boundaries',
    resource: 'districts',
    minzoom: 0,
    maxzoom: MAX_ZOOM,
    srid: 4326,
    fields: { code: 'String', name: 'String' },
    reach: () => 0,
    labelled: true,
    rows: (tile, viewer) => sql`
      select a.id, a.geom, jsonb_build_object('code', a.code, 'name', a.name) as props
      from districts a where a.geom && ${tile.area} and ${readable('districts', districts.place, viewer, 'a')}`,
  },
  {
    name: 'streets',
    description: 'Street boundaries (a street without its own: the union of its communities)',
    resource: 'streets',
    minzoom: 0,
    maxzoom: MAX_ZOOM,
    srid: 4326,
    fields: { code: 'String', name: 'String', district_code: 'String' },
    reach: () => 0,
    labelled: true,
    rows: (tile, viewer) => sql`
      select a.id, a.geom, jsonb_build_object('code', a.code, 'name', a.name, 'district_code', a.district_code) as props
      from streets a where a.geom && ${tile.area} and ${readable('streets', streets.place, viewer, 'a')}`,
  },
  {
    name: 'communities',
    description: 'Community boundaries',
    resource: 'communities',
    minzoom: 0,
    maxzoom: MAX_ZOOM,
    srid: 4326,
    fields: { code: 'String', name: 'String', street_code: 'String', staff_count: 'Number' },
    reach: () => 0,
    labelled: true,
    rows: (tile, viewer) => sql`
      select a.id, a.geom, jsonb_build_object('code', a.code, 'name', a.name, 'street_code', a.street_code, 'staff_count', a.staff_count) as props
      from communities a where a.geom && ${tile.area} and ${readable('communities', communities.place, viewer, 'a')}`,
  },
  {
    name: 'grids',
    description: 'Grid boundaries, with their names and community',
    resource: 'grids',
    minzoom: 12,
    maxzoom: MAX_ZOOM,
    srid: 4326,
    fields: GRID_NAMES,
    reach: () => 0,
    labelled: true,
    rows: (tile, viewer) => sql`
      select a.id, a.geom, jsonb_build_object('code', a.code, 'name', a.name, 'community_id', a.community_id, 'community_name', c.name) as props
      from grids a join communities c on c.id = a.community_id
      where a.geom && ${tile.area} and ${readable('grids', grids.place, viewer, 'a')}`,
  },
  {
    name: 'grid_coverage',
    description:
      'Grids with their coverage metrics (volunteer reach within 500 m), for those who watch coverage: the coverage view draws these',
    resource: 'grids',
    coverage: true,
    // from a district's scale: a tile over a whole city would count every grid's coverage at once
    minzoom: 12,
    maxzoom: MAX_ZOOM,
    srid: 4326,
    fields: GRID_FIELDS,
    fieldsFor: (viewer) =>
      countsAllMembers(viewer)
        ? GRID_FIELDS
        : Object.fromEntries(Object.entries(GRID_FIELDS).filter(([field]) => !ALL_MEMBER_FIELDS.includes(field))),
    reach: () => 0,
    rows: (tile, viewer) => sql`
      select r.id, g.geom, to_jsonb(r) - 'id' as props
      from (${coverageRows('grid', sql`a.geom && ${tile.area} and ${readable('grids', grids.place, viewer, 'a')}`, {
        reachM: DEFAULT_REACH_M,
        viewer,
        allMembers: countsAllMembers(viewer),
      })}) r join grids g on g.id = r.id`,
  },
  {
    name: 'buildings',
    description: 'Building footprints',
    resource: 'buildings',
    minzoom: 12,
    maxzoom: MAX_ZOOM,
    srid: 4326,
    fields: { name: 'String', kind: 'String', households: 'Number', residents: 'Number', has_party_group: 'Boolean', grid_id: 'Number' },
    reach: () => 0,
    rows: (tile, viewer) => sql`
      select b.id, b.geom, jsonb_build_object('name', b.name, 'kind', b.kind, 'households', b.households, 'residents', b.residents,
                                              'has_party_group', b.has_party_group, 'grid_id', b.grid_id) as props
      from buildings b where b.geom && ${tile.area} and ${readable('buildings', buildings.place, viewer, 'b')}`,
  },
  {
    name: 'issues',
    description: 'Issues raised: state, category, wall, overdue',
    resource: 'issues',
    minzoom: 8,
    maxzoom: MAX_ZOOM,
    srid: 4326,
    fields: { status: 'String', category: 'String', wall: 'String', overdue: 'Boolean', grid_id: 'Number' },
    reach: () => 0,
    rows: (tile, viewer) => sql`
      select i.id, i.geom, jsonb_build_object('status', i.status, 'category', i.category, 'wall', i.wall,
                                              'overdue', ${overdue('i')}, 'grid_id', i.grid_id) as props
      from issues i where i.geom && ${tile.area} and ${readable('issues', issues.place, viewer, 'i')}`,
  },
  density('members', 'Party members per hexagon (never a home)'),
  density('volunteers', 'Volunteers per hexagon, and how many are available (never a home)'),
];

export const tileLayer = (name: string) => TILE_LAYERS.find((l) => l.name === name);
