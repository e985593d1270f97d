import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import ExcelJS from 'exceljs';
import type { Entry, ZipFile } from 'yauzl';
import { DomainError } from '../../domain/errors.ts';
import { UNPACKED, tooLarge } from './limits.ts';
import { uploadDir } from './uploads.ts';
import { entriesOf, openZip, streamOf } from './zip.ts';

/** One data row of a sheet: its cells as text by header, or why it cannot be read (a formula, an error value). */
export type SheetRecord =
  { record: Record<string, string>; error?: undefined; field?: undefined } | { record?: undefined; error: string; field: string };

const SHEET = /^xl\/worksheets\/sheet(\d+)\.xml$/;
const MERGE = /<mergeCell\s+ref="([A-Z]+)(\d+)(?::[A-Z]+(\d+))?"/g;

/**
 * Checks a workbook's zip before the XLSX reader (which unzips on its own) sees it: entries and their declared
 * sizes within the caps, every entry inflating to no more than it declares (yauzl checks while reading),
 * shared strings (held in memory) within theirs. Answers each sheet's merged ranges, which the streaming
 * reader skips: [first column, first row, last row] by sheet number.
 */
async function checkedWorkbook(zip: ZipFile) {
  const merges = new Map<string, [string, number, number][]>();
  let book: Entry | undefined;
  for (const entry of await entriesOf(zip, 'an XLSX workbook')) {
    if (entry.fileName === 'xl/workbook.xml') book = entry;
    if (entry.fileName === 'xl/sharedStrings.xml' && entry.uncompressedSize > UNPACKED.xlsxStringsBytes) {
      throw tooLarge('unpackedBytes', `a workbook's shared strings hold at most ${UNPACKED.xlsxStringsBytes} bytes`);
    }
    const sheet = SHEET.exec(entry.fileName)?.[1];
    const ranges: [string, number, number][] = [];
    let tail = '';
    for await (const chunk of await streamOf(zip, entry)) {
      if (!sheet) continue;
      // a merge list sits after the rows; a tag may straddle two chunks (one seen twice is no harm)
      const text = tail + (chunk as Buffer).toString('latin1');
      for (const [, column, first, last] of text.matchAll(MERGE)) ranges.push([column, Number(first), Number(last ?? first)]);
      tail = text.slice(-200);
    }
    if (sheet) merges.set(sheet, ranges);
  }
  return { merges, book };
}

/** A spreadsheet's column letters from its number (1: A, 27: AA), and back. */
const columnName = (n: number): string => (n > 26 ? columnName(Math.floor((n - 1) / 26)) : '') + String.fromCharCode(65 + ((n - 1) % 26));
const columnNumber = (letters: string) => [...letters].reduce((n, c) => n * 26 + c.charCodeAt(0) - 64, 0);

/** A cell's value as the text a CSV would hold: dates as ISO 8601, rich text and links as their text. */
function cellText(value: ExcelJS.CellValue): string | { error: string } {
  if (value === null || value === undefined) return '';
  if (value instanceof Date) {
    const iso = value.toISOString();
    return iso.endsWith('T00:00:00.000Z') ? iso.slice(0, 10) : iso;
  }
  if (typeof value !== 'object') return String(value);
  if ('formula' in value || 'sharedFormula' in value) return { error: 'a formula: we take values, not formulas; paste values' };
  if ('error' in value) return { error: `an error value (${value.error})` };
  if ('richText' in value) return value.richText.map((t) => t.text).join('');
  if ('text' in value) return String(value.text);
  return String(value);
}

/**
 * The rows of an Excel workbook's first sheet, streamed a row at a time (a roster of any length): the first
 * row names the columns (trimmed), like a CSV's header; a merged header cell is refused, since its columns
 * would have no names. Empty rows are skipped.
 */
export async function* xlsxRecords(input: Readable): AsyncGenerator<SheetRecord> {
  const dir = await uploadDir();
  const path = join(dir, 'upload.xlsx');
  let zip: ZipFile | undefined;
  let file: Readable | undefined;
  try {
    await pipeline(input, createWriteStream(path));
    zip = await openZip(path);
    const { merges, book } = await checkedWorkbook(zip);
    file = createReadStream(path);
    const workbook = new ExcelJS.stream.xlsx.WorkbookReader(file, {
      sharedStrings: 'cache',
      styles: 'cache',
      hyperlinks: 'ignore',
      worksheets: 'emit',
      entries: 'ignore',
    });
    // The reader names a sheet from xl/workbook.xml as it meets it in the zip; a workbook whose sheets come first
    // (exceljs's own writer orders its entries as they finish) failed with "reading 'sheets'". Read it first:
    // the reader's own parse of it (exceljs 4.4), read again where the zip holds it.
    if (book) await (workbook as unknown as { _parseWorkbook(entry: Readable): Promise<void> })._parseWorkbook(await streamOf(zip, book));
    for await (const sheet of workbook) {
      let headers: string[] | undefined;
      for await (const row of sheet) {
        // row.values is indexed by column number from 1, with holes for empty cells
        const cells = Array.from({ length: Math.max(0, (row.values as unknown[]).length - 1) }, (_, i) =>
          cellText((row.values as ExcelJS.CellValue[])[i + 1]),
        );
        if (cells.every((v) => v === '')) continue;
        if (!headers) {
          headers = cells.map((v, i) => (typeof v === 'string' ? v.trim() : '') || columnName(i + 1));
          const merged = merges
            .get(String((sheet as unknown as { id: number | string }).id))
            ?.find(([, first, last]) => first <= row.number && row.number <= last);
          if (merged) {
            const [column, first] = merged;
            const name = headers[columnNumber(column) - 1] ?? column;
            throw new DomainError(
              'import.merged_header',
              `the header ${name} (cell ${column}${first}) is a merged cell: unmerge it so that each column has its own header`,
              { field: 'body', header: name },
            );
          }
          continue;
        }
        const record: Record<string, string> = {};
        let failed: SheetRecord | undefined;
        cells.forEach((value, i) => {
          const header = headers![i] ?? columnName(i + 1);
          if (typeof value !== 'string') failed ??= { error: `column ${header}: ${value.error}`, field: `properties.${header}` };
          else if (value !== '') record[header] = value;
        });
        yield failed ?? { record };
      }
      break; // the first sheet only
    }
  } finally {
    file?.destroy();
    zip?.close();
    await rm(dir, { recursive: true, force: true });
  }
}
