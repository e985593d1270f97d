import type { Map as MapLibreMap } from 'maplibre-gl';
import { LOCAL_FONT_FAMILY } from '../map/style.ts';
import type { Legend } from './Legend.tsx';

/**
 * A code (digits) a spreadsheet must keep as written: Excel and WPS read bare digits as a number, so a
 * 12-digit community code shows as 6.10602E+11 and a 15-digit grid code loses what lies past its 15th digit.
 */
export interface Code {
  code: string;
}
type Cell = string | number | null | Code;

/**
 * A table as CSV: UTF-8 with a byte order mark (without it Excel reads Chinese as another code page), CRLF
 * line ends; text that a spreadsheet would run as a formula is quoted as text; a code as ="…", a formula
 * whose value is the code as text, which both Excel and WPS keep.
 */
export function csvFile(rows: Cell[][]): Blob {
  const cell = (value: Cell) => {
    if (value !== null && typeof value === 'object') return `="${value.code}"`;
    let text = value === null ? '' : String(value);
    if (typeof value === 'string' && /^[=+\-@]/.test(text)) text = `'${text}`;
    return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
  };
  return new Blob([`\uFEFF${rows.map((row) => row.map(cell).join(',')).join('\r\n')}\r\n`], { type: 'text/csv;charset=utf-8' });
}

/**
 * The map as drawn now, with its legends in the corner, as a PNG. WebGL clears what it drew once the frame
 * is shown, so the picture is copied in the map's own `render` event, right after the map drew it: no
 * preserveDrawingBuffer slowing the map down the rest of the time.
 */
export async function mapPng(map: MapLibreMap, legends: Legend[]): Promise<Blob> {
  const picture = await new Promise<HTMLCanvasElement>((resolve) => {
    map.once('render', () => {
      const drawn = map.getCanvas();
      const copy = Object.assign(document.createElement('canvas'), { width: drawn.width, height: drawn.height });
      copy.getContext('2d')!.drawImage(drawn, 0, 0);
      resolve(copy);
    });
    map.triggerRepaint();
  });
  drawLegends(picture.getContext('2d')!, legends, picture.width / map.getCanvas().clientWidth);
  return new Promise((resolve, reject) => picture.toBlob((blob) => (blob ? resolve(blob) : reject(new Error('no PNG'))), 'image/png'));
}

/** The legends stacked in a white box at the bottom left, at the map's pixel ratio. */
function drawLegends(context: CanvasRenderingContext2D, legends: Legend[], ratio: number) {
  const [line, swatch, pad] = [18, 14, 10];
  const font = (weight = '') => (context.font = `${weight} 13px ${LOCAL_FONT_FAMILY}`);
  const rampText = (legend: Legend) => `${legend.items[0].label} → ${legend.items.at(-1)!.label}`;
  context.save();
  context.scale(ratio, ratio);
  font();
  // each row's width: a swatch (or the ramp's) and its words; the titles (bold) measured apart
  const rows = legends.flatMap((legend) =>
    legend.ramp
      ? [legend.items.length * 2 * swatch + pad + context.measureText(rampText(legend)).width]
      : legend.items.map((item) => swatch + pad + context.measureText(item.label).width),
  );
  font('bold');
  const titles = legends.map((legend) => context.measureText(legend.title).width);
  const width = Math.max(...rows, ...titles) + 2 * pad;
  const height = (legends.length + rows.length) * line + 2 * pad;
  let y = context.canvas.height / ratio - height - pad;
  context.fillStyle = 'rgba(255, 255, 255, 0.92)';
  context.fillRect(pad, y, width, height);
  y += pad;
  context.textBaseline = 'middle';
  const text = (words: string, x: number) => {
    context.fillStyle = '#222';
    context.fillText(words, x, y + line / 2);
  };
  for (const legend of legends) {
    font('bold');
    text(legend.title, 2 * pad);
    font();
    y += line;
    if (legend.ramp) {
      legend.items.forEach((item, i) => {
        context.fillStyle = item.colour;
        context.fillRect(2 * pad + i * 2 * swatch, y + 2, 2 * swatch, swatch);
      });
      text(rampText(legend), 3 * pad + legend.items.length * 2 * swatch);
      y += line;
      continue;
    }
    for (const item of legend.items) {
      context.fillStyle = item.colour;
      context.fillRect(2 * pad, y + 2, swatch, swatch);
      text(item.label, 3 * pad + swatch);
      y += line;
    }
  }
  context.restore();
}
