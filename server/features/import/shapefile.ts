import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { open as openShapefile } from 'shapefile';
import yauzl, { type Entry, type ZipFile } from 'yauzl';
import { HttpProblem } from '../../http/problem.ts';

const openZip = (path: string) =>
  new Promise<ZipFile>((resolve, reject) => yauzl.open(path, { lazyEntries: true, autoClose: false }, (e, zip) => (e ? reject(e) : resolve(zip!))));

function entriesOf(zip: ZipFile) {
  return new Promise<Entry[]>((resolve, reject) => {
    const entries: Entry[] = [];
    zip.on('entry', (entry: Entry) => (entries.push(entry), zip.readEntry()));
    zip.on('end', () => resolve(entries));
    zip.on('error', reject);
    zip.readEntry();
  });
}

const streamOf = (zip: ZipFile, entry: Entry) =>
  new Promise<Readable>((resolve, reject) => zip.openReadStream(entry, (e, stream) => (e ? reject(e) : resolve(stream!))));

const textOf = async (zip: ZipFile, entry: Entry | undefined) => {
  if (!entry) return undefined;
  let text = '';
  for await (const chunk of await streamOf(zip, entry)) text += chunk;
  return text.trim();
};

/**
 * The features of a zipped Shapefile, a record at a time: the zip is kept on disk (a Shapefile is read from
 * its .shp and .dbf side by side), the .cpg names the text encoding (Chinese files are often GBK), and the
 * .prj must be geographic: a projected file is refused with a message saying so.
 */
export async function* shapefileFeatures(input: Readable): AsyncGenerator<{ type: 'Feature'; geometry: unknown; properties: Record<string, unknown> }> {
  const dir = await mkdtemp(join(tmpdir(), 'gridmap-shp-'));
  const path = join(dir, 'upload.zip');
  let zip: ZipFile | undefined;
  try {
    await pipeline(input, createWriteStream(path));
    zip = await openZip(path);
    const entries = (await entriesOf(zip)).filter((e) => !e.fileName.startsWith('__MACOSX/'));
    const find = (extension: string) => entries.find((e) => e.fileName.toLowerCase().endsWith(extension));
    const [shp, dbf] = [find('.shp'), find('.dbf')];
    if (!shp || !dbf) throw new HttpProblem(400, 'Unreadable file', 'the zip must hold a .shp and its .dbf', { field: 'body' });
    const prj = await textOf(zip, find('.prj'));
    if (prj && /^\s*PROJCS/i.test(prj)) {
      throw new HttpProblem(422, 'Projected coordinates', `the Shapefile is projected (${prj.slice(8, 60)}…): export it in WGS 84 or CGCS2000 longitude/latitude`, { field: 'body' });
    }
    const encoding = (await textOf(zip, find('.cpg'))) || 'utf-8';
    const source = await openShapefile(await streamOf(zip, shp), await streamOf(zip, dbf), { encoding });
    for (let next = await source.read(); !next.done; next = await source.read()) {
      yield next.value as { type: 'Feature'; geometry: unknown; properties: Record<string, unknown> };
    }
  } finally {
    zip?.close();
    await rm(dir, { recursive: true, force: true });
  }
}
