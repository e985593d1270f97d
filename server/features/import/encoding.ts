import { DomainError } from '../../domain/errors.ts';

/** Code-page names GIS software writes in a .cpg or takes as an option, as the WHATWG labels TextDecoder knows. */
const CODE_PAGES: Record<string, string> = {
  '936': 'gbk',
  '54936': 'gb18030',
  '950': 'big5',
  '932': 'shift_jis',
  '949': 'euc-kr',
  '65001': 'utf-8',
  '1252': 'windows-1252',
};

/**
 * A text encoding by any name a city's files use for it (gbk, GB18030, cp936, "ANSI 936", 65001, UTF-8), as
 * the one name both decoders take (the shapefile reader's TextDecoder, iconv-lite for CSV); undefined if unknown.
 */
export function encodingName(given: string): string | undefined {
  const name = given.trim().toLowerCase();
  const codePage = /^(?:cp|ansi[ _]?|windows-)?(\d+)$/.exec(name)?.[1];
  try {
    return new TextDecoder(codePage && CODE_PAGES[codePage] ? CODE_PAGES[codePage] : name).encoding;
  } catch {
    return undefined;
  }
}

/** Formats whose text may be in a legacy encoding; JSON and XLSX are Unicode by their definition. */
const ENCODED_FORMATS = ['csv', 'shapefile'];

/** The caller's `encoding`, checked: an unknown name, or one for a format that has none, is a 400 naming the parameter. */
export function callerEncoding(given: string | undefined, format: string): string | undefined {
  if (given === undefined) return undefined;
  if (!ENCODED_FORMATS.includes(format))
    throw new DomainError('request.invalid_parameter', `encoding applies to ${ENCODED_FORMATS.join(' and ')} files; ${format} is Unicode`, {
      field: 'encoding',
    });
  const name = encodingName(given);
  if (!name)
    throw new DomainError(
      'request.invalid_parameter',
      `encoding ${given} is not one this server decodes: say gbk, gb18030, big5 or utf-8`,
      { field: 'encoding' },
    );
  return name;
}

/**
 * A DBF header's language driver ID (byte 29) for the code pages a Chinese city's files come in, and their
 * neighbours'. 0x57 ("ANSI": whatever the writer's Windows used) and 0x00 say nothing and are not listed.
 */
const LANGUAGE_DRIVERS: Record<number, string> = {
  0x4d: 'gbk',
  0x7a: 'gbk', // 936, PRC GBK
  0x4f: 'big5',
  0x78: 'big5', // 950
  0x13: 'shift_jis',
  0x7b: 'shift_jis', // 932
  0x4e: 'euc-kr',
  0x79: 'euc-kr', // 949
};

export const languageDriverEncoding = (dbfHeader: Buffer) => (dbfHeader.length > 29 ? LANGUAGE_DRIVERS[dbfHeader[29]] : undefined);

/**
 * The first column of a row whose name or text holds U+FFFD, the character a decoder puts where bytes were not
 * text in the encoding it was told: a row error that names the column and the likely fix.
 */
export function undecodedColumn(record: Record<string, unknown>, encoding: string): { field: string; error: string } | undefined {
  const column = Object.entries(record).find(
    ([name, value]) => name.includes('\uFFFD') || (typeof value === 'string' && value.includes('\uFFFD')),
  )?.[0];
  if (column === undefined) return undefined;
  const hint =
    encoding === 'utf-8'
      ? 'if the file is GBK (Chinese Windows), give encoding=gbk'
      : 'give the encoding the file was written in (encoding=)';
  return { field: `properties.${column}`, error: `column ${column}: the text is not valid ${encoding}; ${hint}` };
}
