import { useState } from 'react';
import type { ApiAnswer } from '../../../../server/http/api.ts';
import { useI18n, type MessageKey } from '../../i18n.tsx';
import { useServerState } from '../../serverState.ts';
import { useCommunities } from './issues.ts';

/** The measures of the walls per area and for the whole, as GET /api/v1/issues/metrics gives them. */
type Metrics = ApiAnswer<'GET /api/v1/issues/metrics'>;
type Measures = Metrics['total'];

type Column = keyof Measures;
const COLUMNS: Column[] = [
  'reported',
  'closed',
  'closure_rate',
  'on_time_rate',
  'rework_rate',
  'extension_rate',
  'median_hours_to_close',
  'p90_hours_to_close',
  'mean_rating',
  'open',
  'overdue',
];
const RATES: Column[] = ['closure_rate', 'on_time_rate', 'rework_rate', 'extension_rate'];
/** Where a higher figure is worse: these sort highest first, the others lowest first. */
const WORSE_HIGH: Column[] = ['rework_rate', 'extension_rate', 'median_hours_to_close', 'p90_hours_to_close', 'open', 'overdue'];
/** Rates a leader looks at first: under this, the cell is marked. */
const LOW_RATE = 0.6;

const day = (date: Date) => date.toISOString().slice(0, 10);

/**
 * 办理统计: how fast and how well each grid or community closes its problems over a window of report
 * dates, worst first by the chosen measure, with the whole below; the figures are the server's.
 */
export function MetricsPanel() {
  const { t } = useI18n();
  const communities = useCommunities();
  const [by, setBy] = useState<'grid' | 'community'>('community');
  const [community, setCommunity] = useState<number | null>(null);
  const [from, setFrom] = useState(() => day(new Date(Date.now() - 30 * 86_400_000)));
  const [to, setTo] = useState(() => day(new Date(Date.now() + 86_400_000)));
  const [order, setOrder] = useState<Column>('closure_rate');
  const query = new URLSearchParams({ by, from, to, ...(by === 'grid' && community ? { community: String(community) } : {}) });
  // the last figures stay in view while the next are read
  const read = useServerState<Metrics>('issue', `/api/v1/issues/metrics?${query}`, { keepPrevious: true });
  const metrics = read.data;
  const error = read.error?.message;

  const value = (m: Measures, c: Column) => m[c];
  const shown = (m: Measures, c: Column) => {
    const v = value(m, c);
    if (v === null) return '—';
    return RATES.includes(c) ? `${(v * 100).toFixed(1)}%` : c === 'mean_rating' ? v.toFixed(2) : String(v);
  };
  const low = (m: Measures, c: Column) => (c === 'closure_rate' || c === 'on_time_rate') && m[c] !== null && m[c]! < LOW_RATE;
  // worst first; areas with no figure for the measure last
  const rows = [...(metrics?.areas ?? [])].sort((a, b) => {
    const [x, y] = [value(a, order), value(b, order)];
    if (x === null || y === null) return x === y ? 0 : x === null ? 1 : -1;
    return WORSE_HIGH.includes(order) ? y - x : x - y;
  });
  return (
    <section className="metrics" data-testid="metrics">
      <h2>{t('metrics.title')}</h2>
      <div className="metrics-controls">
        <label>
          {t('metrics.by')}
          <select name="by" value={by} onChange={(e) => setBy(e.target.value as 'grid' | 'community')}>
            <option value="community">{t('metrics.byCommunity')}</option>
            <option value="grid">{t('metrics.byGrid')}</option>
          </select>
        </label>
        {by === 'grid' && (
          <label>
            {t('echo.community')}
            <select name="community" value={community ?? ''} onChange={(e) => setCommunity(Number(e.target.value) || null)}>
              <option value="">{t('echo.allCommunities')}</option>
              {communities.map((c) => (
                <option key={c.id} value={c.id}>
                  {c.name}
                </option>
              ))}
            </select>
          </label>
        )}
        <label>
          {t('metrics.from')}
          <input type="date" name="from" value={from} onChange={(e) => e.target.value && setFrom(e.target.value)} />
        </label>
        <label>
          {t('metrics.to')}
          <input type="date" name="to" value={to} onChange={(e) => e.target.value && setTo(e.target.value)} />
        </label>
        <label>
          {t('metrics.order')}
          <select name="order" value={order} onChange={(e) => setOrder(e.target.value as Column)}>
            {COLUMNS.map((c) => (
              <option key={c} value={c}>
                {t(`metrics.${c}` as MessageKey)}
              </option>
            ))}
          </select>
        </label>
      </div>
      <p className="hint">{t('metrics.hint')}</p>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {metrics && (
        <table className="metrics-table">
          <thead>
            <tr>
              <th>{t(by === 'grid' ? 'metrics.grid' : 'metrics.community')}</th>
              {COLUMNS.map((c) => (
                <th key={c}>{t(`metrics.${c}` as MessageKey)}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map((area) => (
              <tr key={area.area_id ?? 'none'} data-area={area.area_id ?? ''}>
                <th>{area.name ?? t(by === 'grid' ? 'metrics.noGrid' : 'metrics.noCommunity')}</th>
                {COLUMNS.map((c) => (
                  <td key={c} className={low(area, c) ? 'low' : undefined}>
                    {shown(area, c)}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
          <tfoot>
            <tr data-testid="metrics-total">
              <th>{t('metrics.total')}</th>
              {COLUMNS.map((c) => (
                <td key={c}>{shown(metrics.total, c)}</td>
              ))}
            </tr>
          </tfoot>
        </table>
      )}
    </section>
  );
}
