import { deflateSync } from 'node:zlib';
import { PbfWriter } from 'pbf';

export interface OsmFixture {
  nodes: { id: number; lon: number; lat: number }[];
  ways: { id: number; refs: number[]; tags: Record<string, string> }[];
  relations: { id: number; members: { type: 'node' | 'way' | 'relation'; ref: number; role: string }[]; tags: Record<string, string> }[];
}

const delta = (values: number[]) => values.map((v, i) => (i === 0 ? v : v - values[i - 1]));

/** An .osm.pbf file written from the format's .proto definitions (OSMHeader, then one zlib OSMData blob). */
export function osmPbf({ nodes, ways, relations }: OsmFixture): Buffer {
  const strings = [''];
  const sid = (s: string) => (strings.includes(s) ? strings.indexOf(s) : strings.push(s) - 1);
  const tagIds = (tags: Record<string, string>) => [Object.keys(tags).map(sid), Object.values(tags).map(sid)];
  const wayTags = ways.map((w) => tagIds(w.tags));
  const relationTags = relations.map((r) => tagIds(r.tags));
  const roles = relations.map((r) => r.members.map((m) => sid(m.role)));

  const block = new PbfWriter();
  block.writeMessage(1, (_: null, pbf: PbfWriter) => strings.forEach((s) => pbf.writeBytesField(1, new TextEncoder().encode(s))), null);
  block.writeMessage(
    2,
    (_: null, pbf: PbfWriter) =>
      pbf.writeMessage(
        2,
        (__: null, dense: PbfWriter) => {
          dense.writePackedSVarint(1, delta(nodes.map((n) => n.id)));
          dense.writePackedSVarint(8, delta(nodes.map((n) => Math.round(n.lat * 1e7))));
          dense.writePackedSVarint(9, delta(nodes.map((n) => Math.round(n.lon * 1e7))));
        },
        null,
      ),
    null,
  );
  block.writeMessage(
    2,
    (_: null, pbf: PbfWriter) =>
      ways.forEach((w, i) =>
        pbf.writeMessage(
          3,
          (__: null, way: PbfWriter) => {
            way.writeVarintField(1, w.id);
            way.writePackedVarint(2, wayTags[i][0]);
            way.writePackedVarint(3, wayTags[i][1]);
            way.writePackedSVarint(8, delta(w.refs));
          },
          null,
        ),
      ),
    null,
  );
  block.writeMessage(
    2,
    (_: null, pbf: PbfWriter) =>
      relations.forEach((r, i) =>
        pbf.writeMessage(
          4,
          (__: null, relation: PbfWriter) => {
            relation.writeVarintField(1, r.id);
            relation.writePackedVarint(2, relationTags[i][0]);
            relation.writePackedVarint(3, relationTags[i][1]);
            relation.writePackedVarint(8, roles[i]);
            relation.writePackedSVarint(9, delta(r.members.map((m) => m.ref)));
            relation.writePackedVarint(
              10,
              r.members.map((m) => ['node', 'way', 'relation'].indexOf(m.type)),
            );
          },
          null,
        ),
      ),
    null,
  );

  const header = new PbfWriter();
  for (const feature of ['OsmSchema-V0.6', 'DenseNodes']) header.writeStringField(4, feature);

  const frame = (type: string, data: Uint8Array) => {
    const blob = new PbfWriter();
    blob.writeVarintField(2, data.length);
    blob.writeBytesField(3, deflateSync(data));
    const blobBytes = blob.finish();
    const blobHeader = new PbfWriter();
    blobHeader.writeStringField(1, type);
    blobHeader.writeVarintField(3, blobBytes.length);
    const headerBytes = blobHeader.finish();
    const length = Buffer.alloc(4);
    length.writeUInt32BE(headerBytes.length);
    return Buffer.concat([length, headerBytes, blobBytes]);
  };
  return Buffer.concat([frame('OSMHeader', header.finish()), frame('OSMData', block.finish())]);
}
