import type { Feature, FeatureCollection } from 'geojson';
import { useI18n, type MessageKey } from '../../i18n.tsx';
import { LoadFailure, useAnswer } from './answers.tsx';
import { formatValue, numericMetric, type Area, type Areas, type CommunityFigures, type MetricKey } from './metrics.ts';

/** A street's or district's figures: its communities' counts summed, its rates from the sums (the server's). */
type AreaFigures = Omit<CommunityFigures, 'street_code' | 'street_name' | 'staff_count' | 'staff_required_min' | 'staff_required_max' | 'people_served' | 'staffing'>
  & { communities: number; district_name?: string };

/**
 * The streets (街道) and districts (区县) the viewer reads, with the chosen metric and what they hold; a click
 * shows the area on the map (a street without a boundary yet has nothing to show).
 */
export function AreaTotals({ metric, revision, onChoose }: { metric: MetricKey; revision: number; onChoose: (shown: Feature | FeatureCollection) => void }) {
  const { t } = useI18n();
  const numeric = numericMetric(metric) ?? numericMetric('households')!;
  const levels = [
    { key: 'districts', answer: useAnswer<Areas<AreaFigures>>('/api/v1/coverage/districts', revision), caption: 'coverage.byDistrict' },
    { key: 'streets', answer: useAnswer<Areas<AreaFigures>>('/api/v1/coverage/streets', revision), caption: 'coverage.byStreet' },
  ] as const;
  return levels.map(({ key, answer, caption }) => (
    <section key={key} data-testid={`coverage-${key}`}>
      <LoadFailure what="coverage.error.areas" answer={answer} />
      {answer.data && answer.data.features.length > 0 && (
        <table className="coverage-table">
          <caption>{t(caption)}</caption>
          <thead>
            <tr>
              <th>{t(`layer.${key}`)}</th>
              <th>{t('layer.communities')}</th>
              <th>{t(`coverage.metric.${numeric.key}` as MessageKey)}</th>
            </tr>
          </thead>
          <tbody>
            {answer.data.features.map((area: Area<AreaFigures>) => (
              <tr key={area.id} data-area={area.properties.code} onClick={() => area.geometry && onChoose(area)}>
                <th scope="row">
                  <button type="button" className="link">{area.properties.name}</button>
                  {area.properties.district_name && <small> {area.properties.district_name}</small>}
                </th>
                <td>{area.properties.communities}</td>
                <td>{formatValue(numeric.unit, area.properties[numeric.key])}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  ));
}
