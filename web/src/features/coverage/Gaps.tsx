import { useState } from 'react';
import type { ApiAnswer } from '../../../../server/http/api.ts';
import { useI18n } from '../../i18n.tsx';
import { LoadFailure, type Answer } from './answers.tsx';
import { GAP_COLOUR } from './layers.ts';
import type { Area, CommunityFigures } from './metrics.ts';
import { ShowMore, usePages } from './RankedTable.tsx';

/** The distances gaps may be asked for: the standard 500 m (as the volunteer reach), and closer. */
// bands the API answers everyone at (REACH_BANDS_M, server/features/coverage/queries.ts)
export const REACHES = [100, 200, 300, 400, 500];

/** A building with households and no available volunteer within reach, as GET /api/v1/coverage/gaps gives it. */
export type Gaps = ApiAnswer<'GET /api/v1/coverage/gaps'>;
/** A building no volunteer reaches, with its footprint. */
type GapBuilding = Gaps['features'][number];

/**
 * The reach chosen, and the buildings of the chosen community no available volunteer is that close to:
 * how many, their households, and each of them, farthest from help first; a click on one shows it on the map.
 */
export function GapsSection({
  community,
  reach,
  onReach,
  gaps,
  onChoose,
}: {
  community: Area<CommunityFigures> | null;
  reach: number;
  onReach: (reach: number) => void;
  gaps: Answer<Gaps>;
  onChoose: (building: GapBuilding) => void;
}) {
  const { t } = useI18n();
  return (
    <section className="coverage-gaps" data-testid="coverage-gaps">
      <h3>
        <i style={{ background: GAP_COLOUR }} />
        {t('coverage.gaps')}
      </h3>
      <label>
        {t('coverage.reach')}
        <select name="reach" value={reach} onChange={(e) => onReach(Number(e.target.value))}>
          {REACHES.map((r) => (
            <option key={r} value={r}>
              {r} {t('coverage.metres')}
            </option>
          ))}
        </select>
      </label>
      {community === null ? (
        <p className="hint">{t('coverage.gapsHint')}</p>
      ) : // no households: none to reach, and none to claim are reached
      community.properties.households === 0 ? (
        <p className="hint">
          {community.properties.name}: {t('coverage.noHouseholds')}
        </p>
      ) : gaps.failure ? (
        <LoadFailure what="coverage.error.gaps" answer={gaps} />
      ) : !gaps.data ? (
        <p className="hint">{t('coverage.loadingGaps')}</p>
      ) : gaps.data.numberReturned === 0 ? (
        <p className="hint">
          {community.properties.name}: {t('coverage.noGaps')}
        </p>
      ) : (
        <GapList gaps={gaps.data} onChoose={onChoose} />
      )}
    </section>
  );
}

function GapList({ gaps, onChoose }: { gaps: Gaps; onChoose: (building: GapBuilding) => void }) {
  const { t } = useI18n();
  const [chosen, setChosen] = useState<number | null>(null);
  const pages = usePages(gaps.features);
  const choose = (building: GapBuilding) => {
    setChosen(building.id);
    onChoose(building);
  };
  return (
    <>
      <dl className="counts">
        <div>
          <dt>{t('coverage.gapBuildings')}</dt>
          <dd data-count="buildings">{gaps.numberReturned}</dd>
        </div>
        <div>
          <dt>{t('coverage.gapHouseholds')}</dt>
          <dd data-count="households">{gaps.households}</dd>
        </div>
      </dl>
      <table className="coverage-table gap-list">
        <thead>
          <tr>
            <th>{t('coverage.building')}</th>
            <th>{t('coverage.grid')}</th>
            <th>{t('coverage.nearestVolunteer')}</th>
            <th>{t('coverage.metric.households')}</th>
          </tr>
        </thead>
        <tbody>
          {pages.shown.map((building) => {
            const { name, grid_name, nearest_volunteer_m: nearest, nearest_volunteer_over_m: over, households } = building.properties;
            return (
              <tr key={building.id} data-building={building.id} onClick={() => choose(building)}>
                <th scope="row">
                  <button type="button" className="link" aria-pressed={building.id === chosen}>
                    {name}
                  </button>
                </th>
                <td>{grid_name ?? '—'}</td>
                <td>{nearest === null ? `${t('coverage.over')} ${over} ${t('coverage.metres')}` : `${nearest} ${t('coverage.metres')}`}</td>
                <td>{households}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <ShowMore rest={pages.rest} onMore={pages.more} />
    </>
  );
}
