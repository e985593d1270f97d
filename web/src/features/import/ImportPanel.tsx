import { useRef, useState, type FormEvent } from 'react';
import { download, postFollowed } from '../../api.ts';
import { problemText } from '../../errors.ts';
import { useI18n } from '../../i18n.tsx';
import { useChanged, useServerState } from '../../serverState.ts';
import { useSession } from '../auth/session.tsx';
import type { ApiAnswer } from '../../../../server/http/api.ts';

const LAYERS = ['districts', 'streets', 'communities', 'grids', 'buildings', 'members', 'units', 'issues'] as const;
export type ImportLayer = (typeof LAYERS)[number];
const FORMATS: Record<string, string> = {
  geojson: 'geojson',
  json: 'geojson',
  ndjson: 'ndjson',
  geojsonl: 'ndjson',
  csv: 'csv',
  xlsx: 'xlsx',
  zip: 'shapefile',
  osm: 'osm',
  pbf: 'osm.pbf',
};

/**
 * What an import answered: its report (POST /api/v1/import/:layer's answer), or a refusal's problem, which carries the
 * report when rows were rejected, else its status, detail and the limit it crossed (a refused mapping names its missing column).
 */
type Report = Partial<ApiAnswer<'POST /api/v1/import/:layer'>> & {
  detail?: string;
  code?: string;
  params?: Record<string, string | number | boolean | null>;
  status?: number;
  limit?: string;
  field?: string;
  column?: string;
};

/** Where an import is: its upload (the browser's count), then the server's lines as it checks and writes; `since`: when the phase began. */
interface Progress {
  phase: 'upload' | 'check' | 'write';
  bytes: number;
  total_bytes: number;
  read: number;
  rejected: number;
  imported: number;
  to_write?: number;
  since: number;
}

const MODES = ['insert', 'upsert', 'replace'] as const;

/** The `fields` parameter (code:SQDM,name:SQMC) as property → column, and back. */
const parseMapping = (text: string): Record<string, string> =>
  Object.fromEntries(
    text
      .split(',')
      .map((pair) => pair.split(':').map((s) => s.trim()))
      .filter(([property, column]) => property && column),
  );
const formatMapping = (mapping: Record<string, string>) =>
  Object.entries(mapping)
    .map(([property, column]) => `${property}:${column}`)
    .join(',');

interface ApiDocument {
  paths: Record<string, { patch?: { requestBody: { content: Record<string, { schema: { $ref: string } }> } } }>;
  components: { schemas: Record<string, { properties: { properties: { properties: Record<string, unknown> } } }> };
}

/** The properties a layer takes, from the API's own description of a change to one of its rows (none while it is read). */
function layerProperties(doc: ApiDocument | undefined, layer: string) {
  const ref = doc?.paths[`/api/v1/${layer}/{id}`]?.patch?.requestBody.content['application/json'].schema.$ref;
  return ref ? Object.keys(doc!.components.schemas[ref.split('/').pop()!]?.properties.properties.properties ?? {}) : [];
}

/** The part of its phase an import has done. */
const doneOf = (p: Progress) => (p.phase === 'write' ? p.imported / Math.max(p.to_write ?? 1, 1) : p.bytes / Math.max(p.total_bytes, 1));

/**
 * Import a file into a layer (check first with a dry run), and export a layer, for the planner's office; with
 * `layer`, the import of that one layer only (a step of the setup view).
 */
export function ImportPanel({ onImported, layer: only }: { onImported: () => void; layer?: ImportLayer }) {
  const { t, maybe, lang } = useI18n();
  const { may } = useSession();
  const importable = LAYERS.filter((l) => may(l, 'create'));
  const exportable = LAYERS.filter((l) => may(l, 'read'));
  const [layer, setLayer] = useState<ImportLayer>(only ?? (importable.includes('buildings') ? 'buildings' : importable[0]));
  const [exportError, setExportError] = useState<string | null>(null);
  const [crs, setCrs] = useState('wgs84');
  const [report, setReport] = useState<Report | null>(null);
  const [busy, setBusy] = useState(false);
  const [fields, setFields] = useState('');
  const [mode, setMode] = useState<(typeof MODES)[number]>('insert');
  const [community, setCommunity] = useState('');
  // the API's description is the server's own, the same all session
  const properties = layerProperties(useServerState<ApiDocument>('reference', '/api/v1/openapi.json').data, layer);
  /** the columns of the file last sent, for the mapping editor */
  const [columns, setColumns] = useState<string[]>([]);
  // with the time it was told at, which the time left is reckoned to (not the time of a render)
  const [progress, setProgress] = useState<(Progress & { at: number }) | null>(null);
  const phase = useRef<Progress | null>(null);
  const changed = useChanged();

  /** Follows the import: the new phase starts its clock, and its part done and time left are shown. */
  const follow = (next: Omit<Progress, 'since'>) => {
    const at = Date.now();
    const since = phase.current?.phase === next.phase ? phase.current.since : at;
    phase.current = { ...next, since };
    setProgress({ ...phase.current, at });
  };

  /** A column of the file mapped to a property (or to none: ignored). */
  const mapColumn = (column: string, property: string) => {
    const mapping = Object.fromEntries(Object.entries(parseMapping(fields)).filter(([, c]) => c !== column));
    setFields(formatMapping(property ? { ...mapping, [property]: column } : mapping));
  };

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const file = form.get('file') as File | null;
    if (!file || !file.name) return;
    const format = FORMATS[file.name.toLowerCase().split('.').pop() ?? ''] ?? 'geojson';
    const dryRun = (event.nativeEvent as SubmitEvent).submitter?.getAttribute('value') === 'check';
    setBusy(true);
    setReport(null);
    phase.current = null;
    try {
      const query = new URLSearchParams({ format, crs, dry_run: String(dryRun), repair: String(form.get('repair') === 'on'), mode });
      for (const name of ['srid', 'encoding']) if (form.get(name)) query.set(name, String(form.get(name)).trim());
      if (fields.trim()) query.set('fields', fields.trim());
      if (form.get('extra') === 'on') query.set('extra', 'reject');
      if (mode === 'replace') query.set('community', community);
      const lines = (text: string) =>
        text
          .split('\n')
          .filter((line) => line.endsWith('}'))
          .map((line) => JSON.parse(line) as { progress?: Omit<Progress, 'since'>; status?: number; report?: Report; problem?: Report });
      const answer = await postFollowed(
        `/api/v1/import/${layer}?${query}`,
        file,
        { 'Content-Type': 'application/octet-stream', Accept: 'application/x-ndjson' },
        (sent, total) => follow({ phase: 'upload', bytes: sent, total_bytes: total, read: 0, rejected: 0, imported: 0 }),
        (text) => {
          const last = lines(text).findLast((line) => line.progress);
          if (last?.progress) follow(last.progress);
        },
      );
      // streamed: the last line holds the status and what it would have answered; refused before: a problem
      const end = answer.type.startsWith('application/x-ndjson')
        ? lines(answer.text).at(-1)!
        : { status: answer.status, report: JSON.parse(answer.text) as Report };
      const answered = end.report ?? end.problem ?? null;
      setReport(answered);
      if (answered?.columns?.length) setColumns(answered.columns);
      if (end.status === 201) {
        // what the layers hold changed (grids, communities, their counts): every view of them reads again
        void changed('grid');
        onImported();
      }
    } finally {
      setBusy(false);
      setProgress(null);
    }
  }

  return (
    <section className="import" data-testid="import-panel">
      {importable.length > 0 && (
        <>
          <h2>{only ? `${t('import.title')}：${t(`layer.${only}`)}` : t('import.title')}</h2>
          <form onSubmit={submit}>
            {!only && (
              <label>
                {t('import.layer')}
                <select name="layer" value={layer} onChange={(e) => setLayer(e.target.value as typeof layer)}>
                  {importable.map((l) => (
                    <option key={l} value={l}>
                      {t(`layer.${l}`)}
                    </option>
                  ))}
                </select>
              </label>
            )}
            <label>
              {t('import.file')}{' '}
              <input
                type="file"
                name="file"
                accept=".geojson,.json,.ndjson,.geojsonl,.csv,.xlsx,.zip,.osm,.pbf"
                required
                onChange={() => setColumns([])}
              />
            </label>
            <label>
              {t('import.crs')}
              <select name="crs" value={crs} onChange={(e) => setCrs(e.target.value)}>
                <option value="wgs84">WGS 84</option>
                <option value="gcj02">GCJ-02</option>
                <option value="bd09">BD-09</option>
              </select>
            </label>
            {/* the file's own .prj, crs, .cpg or DBF language byte say these; give them when it does not, or says wrong */}
            <label>
              {t('import.srid')} <input name="srid" inputMode="numeric" pattern="[0-9]{4,6}" placeholder="4545" />
            </label>
            <label>
              {t('import.encoding')}
              <select name="encoding" defaultValue="">
                <option value="">{t('import.encodingFromFile')}</option>
                <option value="gbk">GBK</option>
                <option value="gb18030">GB18030</option>
                <option value="utf-8">UTF-8</option>
              </select>
            </label>
            <label className="inline">
              <input type="checkbox" name="repair" /> {t('import.repair')}
            </label>
            <label>
              {t('import.mode')}
              <select name="mode" value={mode} onChange={(e) => setMode(e.target.value as typeof mode)}>
                {MODES.map((m) => (
                  <option key={m} value={m}>
                    {t(`import.mode.${m}`)}
                  </option>
                ))}
              </select>
            </label>
            {mode === 'replace' && (
              <label>
                {t('import.community')}{' '}
                <input name="community" inputMode="numeric" value={community} onChange={(e) => setCommunity(e.target.value)} required />
              </label>
            )}
            <label>
              {t('import.fields')}
              <input name="fields" value={fields} onChange={(e) => setFields(e.target.value)} placeholder="code:SQDM,name:SQMC" />
            </label>
            {columns.length > 0 && properties.length > 0 && (
              <table className="mapping" data-testid="import-mapping">
                <thead>
                  <tr>
                    <th>{t('import.column')}</th>
                    <th>{t('import.property')}</th>
                  </tr>
                </thead>
                <tbody>
                  {columns.map((column) => {
                    const mapping = parseMapping(fields);
                    const property =
                      Object.entries(mapping).find(([, c]) => c === column)?.[0] ??
                      (properties.includes(column) && !mapping[column] ? column : '');
                    return (
                      <tr key={column}>
                        <td>{column}</td>
                        <td>
                          <select aria-label={column} value={property} onChange={(e) => mapColumn(column, e.target.value)}>
                            <option value="">{t('import.ignored')}</option>
                            {properties.map((p) => (
                              <option key={p} value={p}>
                                {p}
                              </option>
                            ))}
                          </select>
                        </td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            )}
            <label className="inline">
              <input type="checkbox" name="extra" /> {t('import.extraReject')}
            </label>
            <div className="buttons">
              <button type="submit" value="check" disabled={busy}>
                {t('import.check')}
              </button>
              <button type="submit" value="import" disabled={busy}>
                {t('import.run')}
              </button>
            </div>
          </form>
          {busy &&
            progress &&
            (() => {
              const done = Math.min(doneOf(progress), 1);
              const seconds = (progress.at - progress.since) / 1000;
              const left = done > 0 && done < 1 && seconds >= 1 ? Math.ceil((seconds * (1 - done)) / done) : undefined;
              return (
                <div className="progress" role="progressbar" aria-valuenow={Math.floor(done * 100)} data-testid="import-progress">
                  <progress max={1} value={done} />
                  <p>
                    {t(`import.phase.${progress.phase}`)} {Math.floor(done * 100)}% · {t('import.read')} {progress.read} ·{' '}
                    {t('import.rejectedRows')} {progress.rejected}
                    {left !== undefined && ` · ${t('import.timeLeft')} ${left} ${t('import.seconds')}`}
                  </p>
                </div>
              );
            })()}
          {report && (
            <div className="report" role="status" data-testid="import-report">
              <p>
                {t('import.read')} {report.read ?? 0} · {t('import.accepted')} {report.imported ?? 0} ·{' '}
                {report.updated || report.deleted
                  ? `${t('import.inserted')} ${report.inserted ?? 0} · ${t('import.updated')} ${report.updated ?? 0} · ${t('import.deleted')} ${report.deleted ?? 0} · `
                  : ''}
                {report.written ? t('import.written') : report.rejected?.length ? t('import.nothingWritten') : t('import.checked')}
              </p>
              {report.ignored_columns && report.ignored_columns.length > 0 && (
                <p>
                  {t('import.ignoredColumns')}: {report.ignored_columns.join(', ')}
                </p>
              )}
              {report.field === 'fields' && report.column && (
                <p className="error">
                  {t('import.missingColumn')}: {report.column}
                </p>
              )}
              {report.detail && !report.rejected && (
                <p className="error">
                  {(report.limit && maybe(`import.limit.${report.limit}`)) ||
                    (report.status === 503 ? t('import.stopped') : t('import.refused'))}
                  {/* what was wrong, by its code in the reader's language (the server's English only for a code the web does not know) */}
                  {!report.limit && report.status !== 503 ? `: ${problemText(report, lang)}` : ''}
                </p>
              )}
              {report.rejected && report.rejected.length > 0 && (
                <table>
                  <thead>
                    <tr>
                      <th>{t('import.row')}</th>
                      <th>{t('import.reason')}</th>
                    </tr>
                  </thead>
                  <tbody>
                    {report.rejected.map((r, i) => (
                      <tr key={i}>
                        <td>{r.row}</td>
                        <td>
                          {r.field ? `${r.field}: ` : ''}
                          {r.reason}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
              {report.repaired && report.repaired.length > 0 && (
                <p>
                  {t('import.repaired')}: {report.repaired.map((r) => r.row).join(', ')}
                </p>
              )}
            </div>
          )}
        </>
      )}
      {!only && (
        <>
          <h2>{t('export.title')}</h2>
          {exportError && (
            <p className="error" role="alert">
              {exportError}
            </p>
          )}
          <ul className="exports">
            {exportable.map((l) => (
              <li key={l}>
                {t(`layer.${l}`)}:{' '}
                {['geojson', 'ndjson', 'csv'].map((f) => (
                  <button
                    type="button"
                    className="link"
                    key={f}
                    onClick={() =>
                      download(`/api/v1/export/${l}?format=${f}`, `${l}.${f}`).then(
                        () => setExportError(null),
                        (e: Error) => setExportError(e.message),
                      )
                    }
                  >
                    {f}
                  </button>
                ))}
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}
