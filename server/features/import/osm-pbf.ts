import { promisify } from 'node:util';
import { inflate } from 'node:zlib';
import type { Readable } from 'node:stream';
import { PbfReader as Pbf } from 'pbf';
import { UNPACKED, tooLarge } from './limits.ts';
import { NodeStore, mayBeBuildingPart, type OsmData, type Relation, type Way } from './osm-data.ts';

/**
 * The OpenStreetMap PBF format (https://wiki.openstreetmap.org/wiki/PBF_Format): a sequence of
 * length-prefixed BlobHeader + Blob pairs; each OSMData blob (zlib or raw) is a PrimitiveBlock of a string
 * table and groups of dense nodes, nodes, ways and relations. Decoded with mapbox's pbf reader.
 */
const MEMBER_TYPES = ['node', 'way', 'relation'];

const inflateBounded = promisify(inflate);

/** Bytes of a stream taken in frames: chunks are joined only as far as a frame needs, never re-joined per chunk. */
class Frames {
  private chunks: Buffer[] = [];
  length = 0;
  push(chunk: Buffer) {
    this.chunks.push(chunk);
    this.length += chunk.length;
  }
  take(n: number): Buffer {
    const whole = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    const rest = whole.subarray(n);
    this.chunks = rest.length ? [rest] : [];
    this.length = rest.length;
    return whole.subarray(0, n);
  }
}

/**
 * Reads a stream as length-prefixed frames: the 4-byte header length, the header, then its blob. The format's
 * own bounds are enforced (a header under 64 KiB, a blob under 32 MiB packed and unpacked), so a header that
 * announces more, or a zlib bomb, is refused without being held.
 */
async function* blobs(input: Readable): AsyncGenerator<{ type: string; data: Uint8Array }> {
  const frames = new Frames();
  let headerLength: number | undefined;
  let header: { type: string; size: number } | undefined;
  for await (const chunk of input) {
    frames.push(chunk as Buffer);
    for (;;) {
      if (!header) {
        if (headerLength === undefined) {
          if (frames.length < 4) break;
          headerLength = frames.take(4).readUInt32BE(0);
          if (headerLength > UNPACKED.pbfHeaderBytes) throw new Error(`a blob header of ${headerLength} bytes: not an OSM PBF file`);
        }
        if (frames.length < headerLength) break;
        header = new Pbf(frames.take(headerLength)).readFields(
          (tag: number, h: { type: string; size: number }, pbf: Pbf) => {
            if (tag === 1) h.type = pbf.readString();
            else if (tag === 3) h.size = pbf.readVarint();
          },
          { type: '', size: 0 },
        );
        headerLength = undefined;
        if (header.size > UNPACKED.pbfBlobBytes)
          throw tooLarge('unpackedBytes', `a PBF blob of ${header.size} bytes: the format allows ${UNPACKED.pbfBlobBytes}`);
      }
      const size: number = header.size;
      if (frames.length < size) break;
      const blob = new Pbf(frames.take(size)).readFields((tag, b: { raw?: Uint8Array; zlib?: Uint8Array }, pbf) => {
        if (tag === 1) b.raw = pbf.readBytes();
        else if (tag === 3) b.zlib = pbf.readBytes();
        else if (tag === 4 || tag === 5 || tag === 6 || tag === 7) throw new Error('only raw and zlib blobs are supported');
      }, {});
      const data =
        blob.raw ??
        (await inflateBounded(blob.zlib!, { maxOutputLength: UNPACKED.pbfBlobBytes }).catch((error: NodeJS.ErrnoException) => {
          throw error.code === 'ERR_BUFFER_TOO_LARGE'
            ? tooLarge('unpackedBytes', `a PBF blob unpacks to at most ${UNPACKED.pbfBlobBytes} bytes`)
            : error;
        }));
      yield { type: header.type, data };
      header = undefined;
    }
  }
  if (header || headerLength !== undefined || frames.length) throw new Error('the file ends inside a blob');
}

export async function readOsmPbf(input: Readable): Promise<OsmData> {
  const data: OsmData = { nodes: new NodeStore(), ways: new Map(), relations: [] };
  for await (const { type, data: bytes } of blobs(input)) {
    if (type !== 'OSMData') continue;
    const block = { strings: [] as string[], groups: [] as Uint8Array[], granularity: 100, latOffset: 0, lonOffset: 0 };
    new Pbf(bytes).readFields((tag, b, pbf) => {
      if (tag === 1)
        pbf.readMessage((t, strings: string[], p) => {
          if (t === 1) strings.push(p.readString());
        }, b.strings);
      else if (tag === 2) b.groups.push(pbf.readBytes());
      else if (tag === 17) b.granularity = pbf.readVarint();
      else if (tag === 19) b.latOffset = pbf.readVarint(true);
      else if (tag === 20) b.lonOffset = pbf.readVarint(true);
    }, block);
    const position = (lon: number, lat: number): [number, number] => [
      (block.lonOffset + block.granularity * lon) * 1e-9,
      (block.latOffset + block.granularity * lat) * 1e-9,
    ];
    const tags = (keys: number[], values: number[]) => Object.fromEntries(keys.map((k, i) => [block.strings[k], block.strings[values[i]]]));
    const undelta = (values: number[]) => {
      for (let i = 1; i < values.length; i++) values[i] += values[i - 1];
      return values;
    };

    for (const group of block.groups) {
      new Pbf(group).readFields((tag, _: null, pbf) => {
        if (tag === 2) {
          const dense = pbf.readMessage(
            (t, d: { ids: number[]; lats: number[]; lons: number[] }, p) => {
              if (t === 1) p.readPackedSVarint(d.ids);
              else if (t === 8) p.readPackedSVarint(d.lats);
              else if (t === 9) p.readPackedSVarint(d.lons);
            },
            { ids: [], lats: [], lons: [] },
          );
          const [ids, lats, lons] = [undelta(dense.ids), undelta(dense.lats), undelta(dense.lons)];
          ids.forEach((id, i) => data.nodes.set(id, ...position(lons[i], lats[i])));
        } else if (tag === 1) {
          const node = pbf.readMessage(
            (t, n: { id: number; lat: number; lon: number }, p) => {
              if (t === 1) n.id = p.readSVarint();
              else if (t === 8) n.lat = p.readSVarint();
              else if (t === 9) n.lon = p.readSVarint();
            },
            { id: 0, lat: 0, lon: 0 },
          );
          data.nodes.set(node.id, ...position(node.lon, node.lat));
        } else if (tag === 3) {
          const way = pbf.readMessage(
            (t, w: { id: number; keys: number[]; vals: number[]; refs: number[] }, p) => {
              if (t === 1) w.id = p.readVarint();
              else if (t === 2) p.readPackedVarint(w.keys);
              else if (t === 3) p.readPackedVarint(w.vals);
              else if (t === 8) p.readPackedSVarint(w.refs);
            },
            { id: 0, keys: [], vals: [], refs: [] },
          );
          const parsed: Way = { id: way.id, refs: undelta(way.refs), tags: tags(way.keys, way.vals) };
          if (mayBeBuildingPart(parsed.tags)) data.ways.set(parsed.id, parsed);
        } else if (tag === 4) {
          const relation = pbf.readMessage(
            (t, r: { id: number; keys: number[]; vals: number[]; roles: number[]; ids: number[]; types: number[] }, p) => {
              if (t === 1) r.id = p.readVarint();
              else if (t === 2) p.readPackedVarint(r.keys);
              else if (t === 3) p.readPackedVarint(r.vals);
              else if (t === 8) p.readPackedVarint(r.roles);
              else if (t === 9) p.readPackedSVarint(r.ids);
              else if (t === 10) p.readPackedVarint(r.types);
            },
            { id: 0, keys: [], vals: [], roles: [], ids: [], types: [] },
          );
          const ids = undelta(relation.ids);
          const parsed: Relation = {
            id: relation.id,
            tags: tags(relation.keys, relation.vals),
            members: ids.map((ref, i) => ({ type: MEMBER_TYPES[relation.types[i]], ref, role: block.strings[relation.roles[i]] })),
          };
          data.relations.push(parsed);
        }
      }, null);
    }
  }
  return data;
}
