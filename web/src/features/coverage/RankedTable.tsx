import { useState } from 'react';
import { saveFile } from '../../api.ts';
import { useI18n, type MessageKey } from '../../i18n.tsx';
import { csvFile } from './exports.ts';
import {
  formatValue,
  hasStandard,
  numericMetric,
  NUMERIC_METRICS,
  rank,
  standardOf,
  type Area,
  type AreaFigures,
  type CommunityFigures,
  type GridFigures,
  type Level,
  type MetricKey,
} from './metrics.ts';

type Figures = CommunityFigures | GridFigures | AreaFigures;

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
  return (
    rest > 0 && (
      <button type="button" className="more" onClick={onMore}>
        {t('coverage.showMore')} ({rest})
      </button>
    )
  );
}

/** What a level's table names its areas and their column, and the area above each (none for a district). */
const NAMED: Record<Level, { column: MessageKey; parent?: MessageKey }> = {
  districts: { column: 'layer.districts' },
  streets: { column: 'layer.streets', parent: 'prop.district_name' },
  communities: { column: 'coverage.community', parent: 'prop.street_name' },
  grids: { column: 'coverage.grid', parent: 'prop.community_name' },
};
/** The name of the area above `p` (a community's street, a street's district, a grid's community). */
const parentOf = (p: Figures) =>
  'street_name' in p ? p.street_name : 'district_name' in p ? p.district_name : 'community_name' in p ? p.community_name : undefined;

/**
 * The areas worst first by the metric, their standard flagged (or, for streets and districts, how many
 * communities they hold); a click on a row shows the area on the map. The table exports as CSV (as
 * `filename`), every row of it. Grids of several communities say whose they are.
 */
export function RankedTable<P extends Figures>({
  level,
  areas,
  metric,
  chosen,
  onChoose,
  caption,
  filename,
  empty,
}: {
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
  // a grid's community is said only when the grids are of several
  const saysParent = level !== 'grids' || new Set(areas.map((area) => (area.properties as Partial<GridFigures>).community_id)).size > 1;
  if (areas.length === 0) {
    return (
      <section data-testid={`coverage-${level}`}>
        <h3>{caption}</h3>
        <p className="hint" data-empty>
          {empty}
        </p>
      </section>
    );
  }
  return (
    <section data-testid={`coverage-${level}`}>
      <table className="coverage-table">
        <caption>{caption}</caption>
        <thead>
          <tr>
            <th>#</th>
            <th>{t(NAMED[level].column)}</th>
            {numeric && <th>{t(`coverage.metric.${metric}` as MessageKey)}</th>}
            <th>{t(level === 'communities' ? 'coverage.staffing' : level === 'grids' ? 'coverage.band' : 'coverage.communityCount')}</th>
          </tr>
        </thead>
        <tbody>
          {pages.shown.map((area, i) => {
            const p: Figures = area.properties;
            const parent = saysParent && parentOf(p);
            return (
              <tr key={area.id} data-area={area.id} onClick={() => onChoose(area)}>
                <td>{i + 1}</td>
                <th scope="row">
                  <button type="button" className="link" aria-pressed={area.id === chosen}>
                    {p.name}
                  </button>
                  {parent && <small> {parent}</small>}
                </th>
                {numeric && <td>{formatValue(numeric.unit, p[numeric.key])}</td>}
                {hasStandard(level) ? (
                  <StandardCell level={level} figures={p as CommunityFigures | GridFigures} />
                ) : (
                  <td>{(p as AreaFigures).communities}</td>
                )}
              </tr>
            );
          })}
        </tbody>
      </table>
      <ShowMore rest={pages.rest} onMore={pages.more} />
      <button type="button" onClick={() => saveFile(csvFile(tableRows(level, areas, metric, t)), filename)}>
        {t('coverage.exportCsv')}
      </button>
    </section>
  );
}

/** An area's standard: what it has against what it should, red when short. */
function StandardCell({ level, figures }: { level: 'communities' | 'grids'; figures: CommunityFigures | GridFigures }) {
  const { t } = useI18n();
  const standard = standardOf(level, figures);
  return (
    <td className={`standard ${standard.state}`} data-standard={standard.state}>
      {standard.actual ?? '—'} / {standard.min}–{standard.max} <b>{t(`coverage.standard.${standard.state}` as MessageKey)}</b>
    </td>
  );
}

/**
 * The ranked table as rows for a CSV file: every metric (rates in per cent, as their names say) and the
 * standard, or what a street or district holds; codes kept as text.
 */
function tableRows<P extends Figures>(level: Level, areas: Area<P>[], metric: MetricKey, t: (key: MessageKey) => string) {
  const { parent } = NAMED[level];
  const header = [
    t('coverage.rank'),
    t('prop.code'),
    t('prop.name'),
    ...(parent ? [t(parent)] : []),
    ...NUMERIC_METRICS.map((m) => t(`coverage.metric.${m.key}` as MessageKey)),
    ...(level === 'communities'
      ? [t('coverage.staffCount'), t('coverage.staffMin'), t('coverage.staffMax'), t('coverage.metric.staffing')]
      : level === 'grids'
        ? [t('coverage.bandMin'), t('coverage.bandMax'), t('coverage.metric.staffing')]
        : level === 'districts'
          ? [t('coverage.streetCount'), t('coverage.communityCount')]
          : [t('coverage.communityCount')]),
  ];
  const rows = rank(areas, metric, level).map((area, i) => {
    const p: Figures = area.properties;
    const holds = () => {
      if (!hasStandard(level))
        return level === 'districts'
          ? [(p as AreaFigures).streets ?? null, (p as AreaFigures).communities]
          : [(p as AreaFigures).communities];
      const standard = standardOf(level, p as CommunityFigures | GridFigures);
      return [
        ...(level === 'communities' ? [standard.actual] : []),
        standard.min,
        standard.max,
        t(`coverage.standard.${standard.state}` as MessageKey),
      ];
    };
    return [
      i + 1,
      { code: p.code },
      p.name,
      ...(parent ? [parentOf(p) ?? null] : []),
      ...NUMERIC_METRICS.map(({ key, unit }) => {
        const value = p[key];
        return unit === 'percent' && value !== null ? Number((value * 100).toFixed(2)) : value;
      }),
      ...holds(),
    ];
  });
  return [header, ...rows];
}
