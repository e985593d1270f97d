import type { FeatureCollection } from 'geojson';
import { useEffect, useState } from 'react';
import type { ApiAnswer } from '../../../../server/http/api.ts';
import { sendJson } from '../../api.ts';
import { useI18n, type MessageKey } from '../../i18n.tsx';
import { useChanged, useServerState } from '../../serverState.ts';
import { usePick } from '../map/picks.tsx';
import { metres } from './DispatchPanel.tsx';

/** The volunteer as it sees itself (server/features/volunteers/answers.ts). */
type Me = ApiAnswer<'GET /api/v1/volunteers/me'>;

/** What a volunteer may do with a dispatch in each state. */
const ACTIONS: Record<string, string[]> = { offered: ['accept', 'decline'], accepted: ['arrive', 'cancel'], arrived: ['finish', 'cancel'] };

/**
 * A volunteer's own page: on or off duty, where it is now (a click on the map), and its offers and
 * dispatches to answer, kept current by the event stream.
 */
export function VolunteerPanel({ onOverlay }: { onOverlay: (overlay: FeatureCollection) => void }) {
  const { t } = useI18n();
  // the volunteer's offers and dispatches: read again when the event stream tells of a dispatch
  const read = useServerState<Me>('dispatch', '/api/v1/volunteers/me');
  const me = read.data;
  const [refusal, setRefusal] = useState<string | null>(null);
  const error = refusal ?? read.error?.message ?? null;
  const changed = useChanged();

  async function change(body: Record<string, unknown>) {
    setRefusal(null);
    try {
      await sendJson<Me>('PATCH', '/api/v1/volunteers/me', body);
    } catch (e) {
      setRefusal((e as Error).message);
    }
    await changed('dispatch');
  }
  // a click on the map is where the volunteer is now
  usePick((at) => void change({ current_point: { type: 'Point', coordinates: at } }));

  useEffect(() => {
    if (!me) return;
    const here = me.current_point ?? me.home;
    onOverlay({
      type: 'FeatureCollection',
      features: [
        { type: 'Feature', properties: { kind: 'target' }, geometry: here },
        ...me.dispatches.flatMap((d) => [
          { type: 'Feature' as const, id: d.issue_id, properties: { kind: 'issue', selected: true }, geometry: d.issue_point },
          {
            type: 'Feature' as const,
            properties: { kind: 'route', state: d.state },
            geometry: { type: 'LineString' as const, coordinates: [here.coordinates, d.issue_point.coordinates] },
          },
        ]),
      ],
    });
  }, [me, onOverlay]);
  useEffect(() => () => onOverlay({ type: 'FeatureCollection', features: [] }), [onOverlay]);

  async function act(id: number, action: string) {
    setRefusal(null);
    try {
      await sendJson('POST', `/api/v1/dispatches/${id}/${action}`, {});
    } catch (e) {
      setRefusal((e as Error).message);
    }
    await changed('dispatch');
  }

  if (!me) return <aside className="panel">{error ?? t('map.loading')}</aside>;
  return (
    <aside className="panel dispatch" data-testid="volunteer-panel">
      <header>
        <h2>{t('volunteer.title')}</h2>
      </header>
      <p>
        {me.name} · <span className={`state ${me.availability}`}>{t(`availability.${me.availability}` as MessageKey)}</span>
      </p>
      <div className="dispatch-actions">
        {me.availability === 'off_duty' && (
          <button type="button" className="primary" onClick={() => void change({ availability: 'available' })}>
            {t('volunteer.goOnDuty')}
          </button>
        )}
        {me.availability === 'available' && (
          <button type="button" onClick={() => void change({ availability: 'off_duty' })}>
            {t('volunteer.goOffDuty')}
          </button>
        )}
      </div>
      <p className="hint">
        {me.current_point ? `${t('volunteer.locatedNow')} ${new Date(me.current_point_at!).toLocaleTimeString()}` : t('volunteer.atHome')} ·{' '}
        {t('volunteer.clickToLocate')}
        {me.current_point && (
          <button type="button" className="link" onClick={() => void change({ current_point: null })}>
            {t('volunteer.backHome')}
          </button>
        )}
      </p>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <h3>{t('volunteer.dispatches')}</h3>
      {me.dispatches.length === 0 && <p className="hint">{t('volunteer.noDispatches')}</p>}
      <ul className="dispatches" data-testid="my-dispatches">
        {me.dispatches.map((d) => (
          <li key={d.id} data-state={d.state}>
            <b>
              #{d.issue_id} {d.issue_title}
            </b>{' '}
            · {metres(d.distance_m)} · <span className={`state ${d.state}`}>{t(`dispatch.state.${d.state}` as MessageKey)}</span>
            {d.state === 'offered' && (
              <small>
                {' '}
                · {t('volunteer.answerBy')} {new Date(d.expires_at).toLocaleTimeString()}
              </small>
            )}
            <div className="dispatch-actions">
              {(ACTIONS[d.state] ?? []).map((action) => (
                <button
                  key={action}
                  type="button"
                  className={action === 'accept' || action === 'finish' ? 'primary' : ''}
                  onClick={() => void act(d.id, action)}
                >
                  {t(`volunteer.${action}` as MessageKey)}
                </button>
              ))}
            </div>
          </li>
        ))}
      </ul>
    </aside>
  );
}
