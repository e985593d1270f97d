import type { Readable } from 'node:stream';
import yauzl, { type Entry, type ZipFile } from 'yauzl';
import { UNPACKED, tooLarge } from './limits.ts';

export const openZip = (path: string) =>
  new Promise<ZipFile>((resolve, reject) =>
    yauzl.open(path, { lazyEntries: true, autoClose: false }, (e, zip) => (e ? reject(e) : resolve(zip!))),
  );

/** A shapefile set or a workbook is a handful of files; a zip of thousands is neither. */
const MAX_ENTRIES = 1000;

/** A zip's entries, refused as soon as they are too many or their declared sizes add up to too much. */
export function entriesOf(zip: ZipFile, what: string) {
  return new Promise<Entry[]>((resolve, reject) => {
    const entries: Entry[] = [];
    let declared = 0;
    zip.on('entry', (entry: Entry) => {
      entries.push(entry);
      declared += entry.uncompressedSize;
      if (entries.length > MAX_ENTRIES) return reject(tooLarge('entries', `${what} holds at most ${MAX_ENTRIES} files`));
      if (declared > UNPACKED.zipBytes) return reject(tooLarge('unpackedBytes', `${what} unpacks to at most ${UNPACKED.zipBytes} bytes`));
      zip.readEntry();
    });
    zip.on('end', () => resolve(entries));
    zip.on('error', reject);
    zip.readEntry();
  });
}

export const streamOf = (zip: ZipFile, entry: Entry) =>
  new Promise<Readable>((resolve, reject) => zip.openReadStream(entry, (e, stream) => (e ? reject(e) : resolve(stream!))));
