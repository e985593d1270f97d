import { saveFile } from '../../api.ts';
import { useI18n, type MessageKey } from '../../i18n.tsx';
import { csvFile } from './exports.ts';
import {
  formatValue, numericMetric, NUMERIC_METRICS, rank, standardOf,
  type Area, type CommunityFigures, type GridFigures, type Level, type MetricKey,
} from './metrics.ts';

type Figures = CommunityFigures | GridFigures;

/**
 * The areas worst first by the metric, their standard flagged; a click on a row shows the area on the map.
 * The table exports as CSV (as `filename`).
 */
export function RankedTable<P extends Figures>({ level, areas, metric, chosen, onChoose, caption, filename }: {
  level: Level;
  areas: Area<P>[];
  metric: MetricKey;
  chosen: number | null;
  onChoose: (area: Area<P>) => void;
  caption: string;
  filename: string;
}) {
  const { t } = useI18n();
  const numeric = numericMetric(metric);
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
          {rank(areas, metric, level).map((area, i) => {
            const standard = standardOf(level, area.properties);
            return (
              <tr key={area.id} data-area={area.id} onClick={() => onChoose(area)}>
                <td>{i + 1}</td>
                <th scope="row">
                  <button type="button" className="link" aria-pressed={area.id === chosen}>{area.properties.name}</button>
                  {'street_name' in area.properties && <small> {area.properties.street_name}</small>}
                </th>
                {numeric && <td>{formatValue(numeric.unit, area.properties[numeric.key], true)}</td>}
                <td className={`standard ${standard.state}`} data-standard={standard.state}>
                  {standard.actual ?? '—'} / {standard.min}–{standard.max} <b>{t(`coverage.standard.${standard.state}` as MessageKey)}</b>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <button type="button" onClick={() => saveFile(csvFile(tableRows(level, areas, metric, t)), filename)}>{t('coverage.exportCsv')}</button>
    </section>
  );
}

/** The ranked table as rows for a CSV file: every metric (rates in per cent, as their names say) and the standard. */
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
      i + 1, p.code, p.name, 'street_name' in p ? p.street_name : (p as GridFigures).community_name,
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
