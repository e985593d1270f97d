import { useState, type FormEvent } from 'react';
import { apiFetch, download } from '../../api.ts';
import { useI18n } from '../../i18n.tsx';
import { useSession } from '../auth/session.tsx';

const LAYERS = ['districts', 'streets', 'communities', 'grids', 'buildings', 'members', 'units', 'issues'] as const;
const FORMATS: Record<string, string> = { geojson: 'geojson', json: 'geojson', ndjson: 'ndjson', geojsonl: 'ndjson', csv: 'csv', zip: 'shapefile', osm: 'osm', pbf: 'osm.pbf' };

interface Report {
  read: number; imported: number; written: boolean; dry_run: boolean;
  rejected?: { row: number | string; field?: string; reason: string }[];
  repaired?: { row: number; reason: string }[];
  detail?: string;
  /** a refusal's problem: its status, and the limit it crossed */
  status?: number;
  limit?: string;
}

/** Import a file into a layer (check first with a dry run), and export a layer, for the planner's office. */
export function ImportPanel({ onImported }: { onImported: () => void }) {
  const { t, maybe, lang } = useI18n();
  const { may } = useSession();
  const importable = LAYERS.filter((l) => may(l, 'create'));
  const exportable = LAYERS.filter((l) => may(l, 'read'));
  const [layer, setLayer] = useState<(typeof LAYERS)[number]>(importable.includes('buildings') ? 'buildings' : importable[0]);
  const [exportError, setExportError] = useState<string | null>(null);
  const [crs, setCrs] = useState('wgs84');
  const [report, setReport] = useState<Report | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const file = form.get('file') as File | null;
    if (!file || !file.name) return;
    const format = FORMATS[file.name.toLowerCase().split('.').pop() ?? ''] ?? 'geojson';
    const dryRun = (event.nativeEvent as SubmitEvent).submitter?.getAttribute('value') === 'check';
    setBusy(true);
    setReport(null);
    try {
      const query = new URLSearchParams({ format, crs, dry_run: String(dryRun), repair: String(form.get('repair') === 'on') });
      const response = await apiFetch(`/api/v1/import/${layer}?${query}`, { method: 'POST', body: file, headers: { 'Content-Type': 'application/octet-stream' } });
      setReport(await response.json());
      if (response.status === 201) onImported();
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="import" data-testid="import-panel">
      {importable.length > 0 && <>
      <h2>{t('import.title')}</h2>
      <form onSubmit={submit}>
        <label>{t('import.layer')}
          <select name="layer" value={layer} onChange={(e) => setLayer(e.target.value as typeof layer)}>
            {importable.map((l) => <option key={l} value={l}>{t(`layer.${l}`)}</option>)}
          </select>
        </label>
        <label>{t('import.file')} <input type="file" name="file" accept=".geojson,.json,.ndjson,.geojsonl,.csv,.zip,.osm,.pbf" required /></label>
        <label>{t('import.crs')}
          <select name="crs" value={crs} onChange={(e) => setCrs(e.target.value)}>
            <option value="wgs84">WGS 84</option><option value="gcj02">GCJ-02</option><option value="bd09">BD-09</option>
          </select>
        </label>
        <label className="inline"><input type="checkbox" name="repair" /> {t('import.repair')}</label>
        <div className="buttons">
          <button type="submit" value="check" disabled={busy}>{t('import.check')}</button>
          <button type="submit" value="import" disabled={busy}>{t('import.run')}</button>
        </div>
      </form>
      {report && (
        <div className="report" role="status" data-testid="import-report">
          <p>
            {t('import.read')} {report.read ?? 0} · {t('import.accepted')} {report.imported ?? 0} ·{' '}
            {report.written ? t('import.written') : report.rejected?.length ? t('import.nothingWritten') : t('import.checked')}
          </p>
          {report.detail && !report.rejected && (
            <p className="error">
              {(report.limit && maybe(`import.limit.${report.limit}`)) || (report.status === 503 ? t('import.stopped') : t('import.refused'))}
              {/* the server's own words name the place in the file; only English readers get them */}
              {lang === 'en' && !report.limit && report.status !== 503 ? `: ${report.detail}` : ''}
            </p>
          )}
          {report.rejected && report.rejected.length > 0 && (
            <table>
              <thead><tr><th>{t('import.row')}</th><th>{t('import.reason')}</th></tr></thead>
              <tbody>{report.rejected.map((r, i) => <tr key={i}><td>{r.row}</td><td>{r.field ? `${r.field}: ` : ''}{r.reason}</td></tr>)}</tbody>
            </table>
          )}
          {report.repaired && report.repaired.length > 0 && <p>{t('import.repaired')}: {report.repaired.map((r) => r.row).join(', ')}</p>}
        </div>
      )}
      </>}
      <h2>{t('export.title')}</h2>
      {exportError && <p className="error" role="alert">{exportError}</p>}
      <ul className="exports">
        {exportable.map((l) => (
          <li key={l}>{t(`layer.${l}`)}: {['geojson', 'ndjson', 'csv'].map((f) => (
            <button type="button" className="link" key={f}
              onClick={() => download(`/api/v1/export/${l}?format=${f}`, `${l}.${f}`).then(() => setExportError(null), (e: Error) => setExportError(e.message))}>
              {f}
            </button>
          ))}</li>
        ))}
      </ul>
    </section>
  );
}
