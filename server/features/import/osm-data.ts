import { UNPACKED, tooLarge } from './limits.ts';

export type Position = [number, number];
export interface Way {
  id: number;
  refs: number[];
  tags: Record<string, string>;
}
export interface Relation {
  id: number;
  members: { type: string; ref: number; role: string }[];
  tags: Record<string, string>;
}

/** Nodes, ways and relations as read from an extract; ways keep their node ids until all nodes are known. */
export interface OsmData {
  nodes: NodeStore;
  ways: Map<number, Way>;
  relations: Relation[];
}

/** Ways worth keeping: buildings, and untagged ways (the rings of multipolygons); roads and the rest are not. */
export const mayBeBuildingPart = (tags: Record<string, string>) => 'building' in tags || Object.keys(tags).length === 0;

/**
 * Node positions by id, for assembling OSM ways: 24 bytes a node in growing typed arrays (a Map of arrays
 * takes several times that). Extracts list nodes by ascending id, so look-ups are a binary search; a file
 * out of order falls back to a Map.
 */
export class NodeStore {
  private ids = new Float64Array(1 << 16);
  private lons = new Float64Array(1 << 16);
  private lats = new Float64Array(1 << 16);
  private size = 0;
  private unordered?: Map<number, Position>;

  set(id: number, lon: number, lat: number) {
    if (this.size >= UNPACKED.osmNodes)
      throw tooLarge('osmNodes', `an OpenStreetMap extract holds at most ${UNPACKED.osmNodes} nodes: cut it to the city`);
    if ((this.unordered?.size ?? 0) >= UNPACKED.osmUnorderedNodes) {
      throw tooLarge(
        'osmNodes',
        `an OpenStreetMap extract out of id order holds at most ${UNPACKED.osmUnorderedNodes} nodes: sort it (osmium sort) or cut it to the city`,
      );
    }
    if (this.unordered) return void this.unordered.set(id, [lon, lat]);
    if (this.size > 0 && id <= this.ids[this.size - 1]) {
      this.unordered = new Map(Array.from({ length: this.size }, (_, i) => [this.ids[i], [this.lons[i], this.lats[i]]]));
      return void this.unordered.set(id, [lon, lat]);
    }
    if (this.size === this.ids.length) {
      // up to the cap, not past it: the arrays are most of an extract's memory
      const grow = (a: Float64Array) => {
        const b = new Float64Array(Math.min(a.length * 2, UNPACKED.osmNodes));
        b.set(a);
        return b;
      };
      [this.ids, this.lons, this.lats] = [grow(this.ids), grow(this.lons), grow(this.lats)];
    }
    this.ids[this.size] = id;
    this.lons[this.size] = lon;
    this.lats[this.size] = lat;
    this.size++;
  }

  get(id: number): Position | undefined {
    if (this.unordered) return this.unordered.get(id);
    let [lo, hi] = [0, this.size - 1];
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const at = this.ids[mid];
      if (at === id) return [this.lons[mid], this.lats[mid]];
      if (at < id) lo = mid + 1;
      else hi = mid - 1;
    }
    return undefined;
  }
}

/**
 * The closed rings a multipolygon's member ways make, joined end to end where one ring is split across several
 * ways (as GDAL assembles them; a way may run either way round): each ring as node ids, or why they do not close.
 */
export function joinRings(ways: Way[]): number[][] | string {
  const left = [...ways];
  const rings: number[][] = [];
  for (let way = left.shift(); way; way = left.shift()) {
    const ring = [...way.refs];
    const joined = [way.id];
    while (ring.length < 2 || ring[0] !== ring[ring.length - 1]) {
      const end = ring[ring.length - 1];
      const next = left.findIndex((w) => w.refs[0] === end || w.refs[w.refs.length - 1] === end);
      if (next < 0) return `way${joined.length > 1 ? 's' : ''} ${joined.join(', ')} ${joined.length > 1 ? 'do' : 'does'} not close a ring`;
      const [w] = left.splice(next, 1);
      ring.push(...(w.refs[0] === end ? w.refs : [...w.refs].reverse()).slice(1));
      joined.push(w.id);
    }
    if (ring.length < 4) return `way ${joined.join(', ')} makes a ring of fewer than 4 positions`;
    rings.push(ring);
  }
  return rings;
}
