import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { open as openShapefile } from 'shapefile';
import type { Entry, ZipFile } from 'yauzl';
import { DomainError } from '../../domain/errors.ts';
import type { FileCrs } from './crs.ts';
import { encodingName, languageDriverEncoding } from './encoding.ts';
import { UNPACKED, tooLarge } from './limits.ts';
import { uploadDir } from './uploads.ts';
import { entriesOf, openZip, streamOf } from './zip.ts';

/** A .prj or .cpg: a line of text, refused unread if its header says it is more. */
const textOf = async (zip: ZipFile, entry: Entry | undefined) => {
  if (!entry) return undefined;
  if (entry.uncompressedSize > UNPACKED.sidecarBytes)
    throw tooLarge(
      'unpackedBytes',
      `${entry.fileName} is ${entry.uncompressedSize} bytes; a .prj or .cpg holds at most ${UNPACKED.sidecarBytes}`,
    );
  let text = '';
  for await (const chunk of await streamOf(zip, entry)) text += chunk;
  return text.trim();
};

/** The first bytes of a zip entry (a DBF's 32-byte header), without reading the rest. */
async function headOf(zip: ZipFile, entry: Entry, bytes: number) {
  const stream = await streamOf(zip, entry);
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    length += chunk.length;
    if (length >= bytes) break;
  }
  stream.destroy();
  return Buffer.concat(chunks).subarray(0, bytes);
}

type ShapefileFeature = { type: 'Feature'; geometry: unknown; properties: Record<string, unknown> };

/**
 * The features of a zipped Shapefile, a record at a time, with the coordinate system its .prj names (PostGIS
 * transforms from it) and the encoding its DBF was read in. The zip is kept on disk (a Shapefile is read
 * from its .shp and .dbf side by side). The encoding is the caller's if given (it wins, as GDAL's
 * SHAPE_ENCODING does: a .cpg is sometimes wrong), else the .cpg's, else the DBF header's language driver
 * (0x4D: GBK), else UTF-8, which the reader checks.
 */
export async function* shapefileFeatures(
  input: Readable,
  callerEncoding?: string,
): AsyncGenerator<{ feature: ShapefileFeature; crs?: FileCrs; encoding: string }> {
  const dir = await uploadDir();
  const path = join(dir, 'upload.zip');
  let zip: ZipFile | undefined;
  try {
    await pipeline(input, createWriteStream(path));
    zip = await openZip(path);
    const entries = (await entriesOf(zip, 'a shapefile zip')).filter((e) => !e.fileName.startsWith('__MACOSX/'));
    const find = (extension: string) => entries.find((e) => e.fileName.toLowerCase().endsWith(extension));
    const [shp, dbf] = [find('.shp'), find('.dbf')];
    if (!shp || !dbf) throw new DomainError('import.unreadable_file', 'the zip must hold a .shp and its .dbf', { field: 'body' });
    const prj = await textOf(zip, find('.prj'));
    const crs = prj ? { prj } : undefined;
    const cpg = await textOf(zip, find('.cpg'));
    const encoding =
      callerEncoding ?? (cpg ? encodingName(cpg) : languageDriverEncoding(await headOf(zip, dbf, 32))) ?? (cpg ? undefined : 'utf-8');
    if (!encoding)
      throw new DomainError(
        'import.unknown_encoding',
        `the .cpg names ${cpg!.slice(0, 40)}, an encoding this server does not know: give encoding= (gbk, utf-8 …)`,
        { field: 'encoding' },
      );
    // The reader (stream-source) keeps a stream's error as a rejected promise that no one awaits once we stop
    // reading: an unhandled rejection. So it is handed streams that end instead of failing, and each read
    // races the first error (a guard's refusal, a size that does not match the zip's header).
    let refusal: Error | undefined;
    let broken!: (error: Error) => void;
    const failed = new Promise<never>((_, reject) => (broken = (error) => reject((refusal ??= error))));
    failed.catch(() => {});
    const quiet = (stream: Readable) => {
      const handed = new PassThrough();
      stream.on('error', (error) => (broken(error), handed.end())).pipe(handed);
      return handed;
    };
    const shpStream = quiet(guarded(await streamOf(zip, shp)));
    const dbfStream = quiet(await streamOf(zip, dbf));
    // what loses a race may still reject: handled, or it would be an unhandled rejection
    const racing = <T>(work: Promise<T>) => (work.catch(() => {}), Promise.race([work, failed]));
    const source = await racing(openShapefile(shpStream, dbfStream, { encoding }));
    const read = () => racing(source.read());
    for (let next = await read(); !next.done; next = await read()) {
      if (refusal) throw refusal;
      yield { feature: next.value as ShapefileFeature, crs, encoding };
    }
    if (refusal) throw refusal;
  } finally {
    zip?.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Refuses a .shp record longer than UNPACKED.shpRecordBytes before the reader buffers it, and one that is not a
 * record at all (out of sequence, or too short for its shape type), which the reader would scan byte by byte: the shapefile
 * reader takes a record's length from its 8-byte header (in 16-bit words, after the 100-byte file header).
 */
function guarded(shp: Readable) {
  const guard = recordGuard();
  shp.on('error', (error) => guard.destroy(error));
  return shp.pipe(guard);
}

function recordGuard() {
  let skip = 100;
  let header: number[] = [];
  let record = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      for (let i = 0; i < chunk.length;) {
        if (skip > 0) {
          const n = Math.min(skip, chunk.length - i);
          [skip, i] = [skip - n, i + n];
          continue;
        }
        header.push(chunk[i++]);
        if (header.length < 8) continue;
        const bytes = Buffer.from(header);
        [skip, header] = [bytes.readInt32BE(4) * 2, []];
        // records are numbered from 1 and hold at least their shape type: zeros (a zip bomb) are not records
        if (bytes.readInt32BE(0) !== ++record || skip < 4) return done(new Error(`the .shp's record ${record} is malformed`));
        if (skip > UNPACKED.shpRecordBytes)
          return done(tooLarge('recordBytes', `a shapefile record holds at most ${UNPACKED.shpRecordBytes} bytes`));
      }
      done(null, chunk);
    },
  });
}
