import type { Readable } from 'node:stream';
import sax from 'sax';
import { NodeStore, joinRings, mayBeBuildingPart, type OsmData, type Position, type Relation, type Way } from './osm-data.ts';
import { readOsmPbf } from './osm-pbf.ts';

/** OpenStreetMap's building=* values, in Gridmap's building kinds. */
const KINDS: Record<string, string> = {
  apartments: 'residential',
  residential: 'residential',
  house: 'residential',
  detached: 'residential',
  dormitory: 'residential',
  terrace: 'residential',
  commercial: 'commercial',
  office: 'commercial',
  retail: 'shop',
  supermarket: 'shop',
  kiosk: 'shop',
  school: 'school',
  university: 'school',
  kindergarten: 'school',
  college: 'school',
  public: 'unit',
  government: 'unit',
  civic: 'unit',
  hospital: 'unit',
};

/** The properties of a building from its OSM tags: name (or address, or OSM id), kind, floors. */
function building(tags: Record<string, string>, osmId: string) {
  const address = [tags['addr:city'], tags['addr:street'], tags['addr:housenumber']].filter(Boolean).join('') || undefined;
  const floors = Number.parseInt(tags['building:levels'] ?? '', 10);
  return {
    name: tags.name ?? tags['addr:housename'] ?? address ?? `OSM ${osmId}`,
    ...(address ? { address } : {}),
    kind: KINDS[tags.building] ?? (tags.building === 'yes' ? 'residential' : 'other'),
    ...(floors >= 1 && floors <= 200 ? { floors } : {}),
  };
}

export type OsmRow = { feature?: { type: 'Feature'; geometry: unknown; properties: Record<string, unknown> }; error?: string; id: string };

/**
 * Building footprints from an OpenStreetMap extract (.osm XML or .osm.pbf): closed ways tagged building=*,
 * and building multipolygons with one outer ring, their rings joined from the ways they are split across. Node positions are kept in memory by id (a city
 * extract's worth); ways are resolved once the file has been read, since relations come after them.
 */
export async function* osmBuildings(input: Readable, format: 'osm' | 'osm.pbf'): AsyncGenerator<OsmRow> {
  const { nodes, ways, relations } = format === 'osm' ? await readOsmXml(input) : await readOsmPbf(input);

  const positions = (refs: number[], of: string): Position[] | string => {
    const found = refs.map((ref) => nodes.get(ref));
    return found.some((p) => !p) ? `${of} refers to nodes missing from the extract` : (found as Position[]);
  };

  for (const way of ways.values()) {
    if (!way.tags.building) continue;
    const id = `way/${way.id}`;
    const outer =
      way.refs.length < 4 || way.refs[0] !== way.refs[way.refs.length - 1]
        ? `way ${way.id} is not closed`
        : positions(way.refs, `way ${way.id}`);
    if (typeof outer === 'string') yield { id, error: outer };
    else
      yield { id, feature: { type: 'Feature', geometry: { type: 'Polygon', coordinates: [outer] }, properties: building(way.tags, id) } };
  }
  for (const relation of relations) {
    if (relation.tags.type !== 'multipolygon' || !relation.tags.building) continue;
    const id = `relation/${relation.id}`;
    const rings = (role: string): Position[][] | string => {
      const members = relation.members.filter((m) => m.type === 'way' && m.role === role).map((m) => ways.get(m.ref));
      if (members.some((w) => !w)) return 'a member way is missing from the extract';
      const joined = joinRings(members as Way[]);
      if (typeof joined === 'string') return joined;
      const found = joined.map((ring) => positions(ring, `relation ${relation.id}`));
      return found.find((r): r is string => typeof r === 'string') ?? (found as Position[][]);
    };
    const [outers, inners] = [rings('outer'), rings('inner')];
    const broken = [outers, inners].find((r) => typeof r === 'string');
    if (broken) yield { id, error: broken as string };
    else if (outers.length !== 1) yield { id, error: `a footprint has one outer ring; this multipolygon has ${outers.length}` };
    else
      yield {
        id,
        feature: {
          type: 'Feature',
          geometry: { type: 'Polygon', coordinates: [...(outers as Position[][]), ...(inners as Position[][])] },
          properties: building(relation.tags, id),
        },
      };
  }
}

async function readOsmXml(input: Readable): Promise<OsmData> {
  const data: OsmData = { nodes: new NodeStore(), ways: new Map(), relations: [] };
  let current: Way | Relation | undefined;
  const parser = sax.createStream(true, {});
  await new Promise<void>((resolve, reject) => {
    // sax calls these from its own stream events: a refusal thrown there (too many nodes) must end the read,
    // not escape as an uncaught exception
    const guarded =
      <T>(handle: (value: T) => void) =>
      (value: T) => {
        try {
          handle(value);
        } catch (error) {
          input.unpipe(parser);
          input.destroy();
          reject(error);
        }
      };
    parser.on(
      'opentag',
      guarded(({ name, attributes }: sax.Tag | sax.QualifiedTag) => {
        const a = attributes as Record<string, string>;
        if (name === 'node') data.nodes.set(Number(a.id), Number(a.lon), Number(a.lat));
        else if (name === 'way') current = { id: Number(a.id), refs: [], tags: {} };
        else if (name === 'relation') data.relations.push((current = { id: Number(a.id), members: [], tags: {} }));
        else if (name === 'nd' && current && 'refs' in current) current.refs.push(Number(a.ref));
        else if (name === 'member' && current && 'members' in current)
          current.members.push({ type: a.type, ref: Number(a.ref), role: a.role });
        else if (name === 'tag' && current) current.tags[a.k] = a.v;
      }),
    );
    parser.on(
      'closetag',
      guarded((name: string) => {
        if (name === 'way' && current && 'refs' in current && mayBeBuildingPart(current.tags)) data.ways.set(current.id, current);
        if (name === 'way' || name === 'relation') current = undefined;
      }),
    );
    parser.on('end', resolve);
    parser.on('error', reject);
    input.on('error', reject);
    input.pipe(parser);
  });
  return data;
}
