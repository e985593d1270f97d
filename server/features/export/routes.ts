import { Router, type Response } from 'express';
import type { Database } from '../../db/database.ts';
import { visibleLayer } from '../../access/rows.ts';
import type { ResourceDefinition } from '../../http/feature-resource.ts';
import { parseQueryValue } from '../../http/params.ts';
import { HttpProblem } from '../../http/problem.ts';
import { exportBatch, type ExportRow } from './queries.ts';

const FORMATS = {
  geojson: { type: 'application/geo+json', extension: 'geojson' },
  ndjson: { type: 'application/x-ndjson', extension: 'ndjson' },
  csv: { type: 'text/csv; charset=utf-8', extension: 'csv' },
} as const;
type ExportFormat = keyof typeof FORMATS;
const BATCH = 2000;

const csvCell = (value: unknown) => {
  if (value === null || value === undefined) return '';
  const text = Array.isArray(value) ? value.join(';') : typeof value === 'object' ? JSON.stringify(value) : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
};

/** Waits for the client to take what was written before writing more: memory stays bounded. */
const write = (res: Response, chunk: string) =>
  res.write(chunk) ? Promise.resolve() : new Promise<void>((resolve) => {
    const done = () => (res.off('drain', done), res.off('close', done), resolve());
    res.once('drain', done).once('close', done);
  });

/**
 * GET /api/v1/export/:layer?format=geojson|ndjson|csv: the whole layer, streamed in id order. CSV has a
 * `wkt` column for the geometry and the properties beside it (lists joined with ';'), ready to import again.
 */
export function exportRoutes(database: Database, resources: ResourceDefinition[]) {
  return Router().get('/api/v1/export/:layer', async (req, res) => {
    const def = resources.find((r) => r.name === req.params.layer);
    if (!def) throw new HttpProblem(404, 'Not Found', `No layer ${req.params.layer}`, { field: 'layer' });
    const format = (parseQueryValue(req.query.format, 'format', 'text') ?? 'geojson') as ExportFormat;
    if (!(format in FORMATS)) throw new HttpProblem(400, 'Invalid parameter', `format must be one of ${Object.keys(FORMATS).join(', ')}`, { field: 'format' });

    const tabular = format === 'csv';
    // what the caller may read, masked as in the API: an export is no way around the rules
    const layer = visibleLayer(def, req.viewer!);
    let batch: ExportRow[] = await exportBatch(database.db, layer, tabular, 0, BATCH);
    res.type(FORMATS[format].type).attachment(`${def.name}.${FORMATS[format].extension}`);
    const columns = tabular && batch.length ? Object.keys(batch[0].properties!) : [];
    if (format === 'geojson') await write(res, '{"type":"FeatureCollection","features":[\n');
    if (format === 'csv') await write(res, `${['wkt', ...columns].join(',')}\r\n`);
    let first = true;
    while (batch.length) {
      const text = batch.map((row) => {
        if (tabular) return `${[row.wkt, ...columns.map((c) => row.properties![c])].map(csvCell).join(',')}\r\n`;
        if (format === 'ndjson') return `${row.feature}\n`;
        const separated = first ? row.feature : `,\n${row.feature}`;
        first = false;
        return separated;
      }).join('');
      await write(res, text);
      if (res.destroyed) return;
      batch = batch.length < BATCH ? [] : await exportBatch(database.db, layer, tabular, batch[batch.length - 1].id, BATCH);
    }
    if (format === 'geojson') await write(res, '\n]}\n');
    res.end();
  });
}
