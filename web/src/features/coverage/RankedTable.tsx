import { useState } from 'react';
import { saveFile } from '../../api.ts';
import { useI18n, type MessageKey } from '../../i18n.tsx';
import { csvFile } from './exports.ts';
import {
  formatValue, numericMetric, NUMERIC_METRICS, rank, standardOf,
  type Area, type CommunityFigures, type GridFigures, type Level, type MetricKey,
} from './metrics.ts';

type Figures = CommunityFigures | GridFigures;

/** How many rows a long list shows at first, and how many more each "show more" adds (a city has thousands of grids). */
const PAGE = 100;

/** The first rows of a long list, and a hundred more on request. */
export function usePages<T>(items: T[]) {
  const [pages, setPages] = useState(1);
  const shown = items.slice(0, pages * PAGE);
  return { shown, rest: items.length - shown.length, more: () => setPages((p) => p + 1) };
}

/** The button under a list that shows more of it, while there is more. */
export function ShowMore({ rest, onMore }: { rest: number; onMore: () => void }) {
  const { t } = useI18n();
  return rest > 0 && <button type="button" className="more" onClick={onMore}>{t('coverage.showMore')} ({rest})</button>;
}

/**
 * The areas worst first by the metric, their standard flagged; a click on a row shows the area on the map.
 * The table exports as CSV (as `filename`), every row of it. Grids of several communities say whose they are.
 */
export function RankedTable<P extends Figures>({ level, areas, metric, chosen, onChoose, caption, filename, empty }: {
  level: Level;
  areas: Area<P>[];
  metric: MetricKey;
  chosen: number | null;
  onChoose: (area: Area<P>) => void;
  caption: string;
  filename: string;
  /** what the table says when there are no areas */
  empty: string;
}) {
  const { t } = useI18n();
  const numeric = numericMetric(metric);
  const ranked = rank(areas, metric, level);
  const pages = usePages(ranked);
  const ofCommunities = new Set(areas.map((area) => (area.properties as Partial<GridFigures>).community_id)).size > 1;
  if (areas.length === 0) {
    return <section data-testid={`coverage-${level}`}><h3>{caption}</h3><p className="hint" data-empty>{empty}</p></section>;
  }
  return (
    <section data-testid={`coverage-${level}`}>
      <table className="coverage-table">
        <caption>{caption}</caption>
        <thead>
          <tr>
            <th>#</th>
            <th>{t(level === 'communities' ? 'coverage.community' : 'coverage.grid')}</th>
            {numeric && <th>{t(`coverage.metric.${metric}` as MessageKey)}</th>}
            <th>{t(level === 'communities' ? 'coverage.staffing' : 'coverage.band')}</th>
          </tr>
        </thead>
        <tbody>
          {pages.shown.map((area, i) => {
            const standard = standardOf(level, area.properties);
            const p: Figures = area.properties;
            return (
              <tr key={area.id} data-area={area.id} onClick={() => onChoose(area)}>
                <td>{i + 1}</td>
                <th scope="row">
                  <button type="button" className="link" aria-pressed={area.id === chosen}>{p.name}</button>
                  {'street_name' in p ? <small> {p.street_name}</small> : ofCommunities && <small> {p.community_name}</small>}
                </th>
                {numeric && <td>{formatValue(numeric.unit, p[numeric.key])}</td>}
                <td className={`standard ${standard.state}`} data-standard={standard.state}>
                  {standard.actual ?? '—'} / {standard.min}–{standard.max} <b>{t(`coverage.standard.${standard.state}` as MessageKey)}</b>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <ShowMore rest={pages.rest} onMore={pages.more} />
      <button type="button" onClick={() => saveFile(csvFile(tableRows(level, areas, metric, t)), filename)}>{t('coverage.exportCsv')}</button>
    </section>
  );
}

/**
 * The ranked table as rows for a CSV file: every metric (rates in per cent, as their names say) and the
 * standard; codes kept as text.
 */
function tableRows<P extends Figures>(level: Level, areas: Area<P>[], metric: MetricKey, t: (key: MessageKey) => string) {
  const header = [
    t('coverage.rank'), t('prop.code'), t('prop.name'), t(level === 'communities' ? 'prop.street_name' : 'prop.community_name'),
    ...NUMERIC_METRICS.map((m) => t(`coverage.metric.${m.key}` as MessageKey)),
    ...(level === 'communities'
      ? [t('coverage.staffCount'), t('coverage.staffMin'), t('coverage.staffMax')]
      : [t('coverage.bandMin'), t('coverage.bandMax')]),
    t('coverage.metric.staffing'),
  ];
  const rows = rank(areas, metric, level).map((area, i) => {
    const p = area.properties;
    const standard = standardOf(level, p);
    return [
      i + 1, { code: p.code }, p.name, 'street_name' in p ? p.street_name : (p as GridFigures).community_name,
      ...NUMERIC_METRICS.map(({ key, unit }) => {
        const value = p[key];
        return unit === 'percent' && value !== null ? Number((value * 100).toFixed(2)) : value;
      }),
      ...(level === 'communities' ? [standard.actual, standard.min, standard.max] : [standard.min, standard.max]),
      t(`coverage.standard.${standard.state}` as MessageKey),
    ];
  });
  return [header, ...rows];
}
