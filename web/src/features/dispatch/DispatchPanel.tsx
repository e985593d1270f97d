import type { Feature, FeatureCollection, Point } from 'geojson';
import { useEffect, useEffectEvent, useMemo, useState } from 'react';
import { Link, useLocation, useRoute, useSearch } from 'wouter';
import type { ApiAnswer } from '../../../../server/http/api.ts';
import { apiFetch, everyOf, problemOf, sendJson } from '../../api.ts';
import { useI18n, type MessageKey } from '../../i18n.tsx';
import { useChanged, useServerState } from '../../serverState.ts';
import { pointOf, pointParam, usePick } from '../map/picks.tsx';
import { subscribeEvents, type ServerEvent } from './events.ts';
import { VolunteerCard, volunteerPath } from './VolunteerCard.tsx';

type Skill = ApiAnswer<'GET /api/v1/members/:id'>['properties']['skills'][number];
export const SKILLS = everyOf<Skill>()([
  'elder_care',
  'disability',
  'hardship',
  'employment',
  'medical',
  'education',
  'patrol',
  'legal_aid',
  'mediation',
  'repair',
]);
const NO_DISPATCHES: Dispatch[] = [];
const NO_ISSUES: IssueFeature[] = [];
const NO_REQUESTS: DispatchRequest[] = [];

/** Where the dispatcher asks: a clicked point, or an open issue's. */
interface Target {
  at: [number, number];
  issueId?: number;
}

/** What the server answers (server/features/dispatch/answers.ts, server/features/volunteers/answers.ts). */
type Nearest = ApiAnswer<'GET /api/v1/volunteers/nearest'>;
type IssueDispatches = ApiAnswer<'GET /api/v1/issues/:id/dispatches'>;
type IssueFeature = ApiAnswer<'GET /api/v1/issues/:id'>;
type Dispatch = ApiAnswer<'GET /api/v1/dispatches'>['dispatches'][number];
type DispatchRequest = IssueDispatches['requests'][number];

export const metres = (m: number) => (m < 1000 ? `${Math.round(m)} m` : `${(m / 1000).toFixed(2)} km`);

const route = (from: [number, number], to: Point, state: string, id: string): Feature => ({
  type: 'Feature',
  id,
  properties: { kind: 'route', state },
  geometry: { type: 'LineString', coordinates: [from, to.coordinates] },
});

/**
 * Where the dispatcher asks, from the address: an issue's point (/dispatch/issues/12, an issue not in the open
 * list read on its own) or a point clicked (/dispatch?at=lon,lat).
 */
function useTarget(issues: IssueFeature[]): { target: Target | null; linked: { error: Error | null } } {
  const [, params] = useRoute<{ id: string }>('/dispatch/issues/:id');
  const search = useSearch();
  const issueId = params && Number(params.id) > 0 ? Number(params.id) : undefined;
  const listed = issues.find((issue) => issue.id === issueId)?.geometry;
  const linked = useServerState<IssueFeature>('issue', issueId !== undefined && !listed ? `/api/v1/issues/${issueId}` : null);
  const point = listed ?? (linked.data && linked.data.id === issueId ? linked.data.geometry : undefined);
  const [lon, lat] = issueId === undefined ? (pointOf(search) ?? []) : (point?.coordinates ?? []);
  const target = useMemo<Target | null>(
    () => (lon === undefined || lat === undefined ? null : { at: [lon, lat], issueId }),
    [lon, lat, issueId],
  );
  // an issue that is not open is read on its own: one that cannot be (none such, or out of scope) is said
  return { target, linked };
}

/**
 * The dispatcher's console: open issues in scope, the nearest available volunteers to a clicked point or
 * an issue (ranked, with distance, skills and contact, and lines on the map), dispatch with one button,
 * and offers, accepts and declines as they happen, from the event stream.
 */
export function DispatchPanel({ onOverlay }: { onOverlay: (overlay: FeatureCollection) => void }) {
  const { t, maybe } = useI18n();
  const [, navigate] = useLocation();
  const [skills, setSkills] = useState<string[]>([]);
  const [k, setK] = useState(3);
  const [log, setLog] = useState<{ id: string; text: string }[]>([]);
  const [refusal, setRefusal] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const changed = useChanged();
  const [, volunteerAddress] = useRoute<{ id: string }>('/dispatch/volunteers/:id');
  const volunteerShown = volunteerAddress && Number(volunteerAddress.id) > 0 ? Number(volunteerAddress.id) : null;

  // issue events read the open issues again; dispatch events the volunteers and the issue's dispatches
  const open = useServerState<{ features: IssueFeature[] }>('issue', '/api/v1/issues?open=true&limit=1000');
  const issues = open.data?.features ?? NO_ISSUES;
  const { target, linked } = useTarget(issues);
  // a click on the map asks at that point, or for the issue whose pin it hit
  usePick((at, issueId) => navigate(issueId === undefined ? `/dispatch?at=${pointParam(at)}` : `/dispatch/issues/${issueId}`));
  const query = target && `lon=${target.at[0]}&lat=${target.at[1]}&k=10${skills.map((s) => `&skill=${s}`).join('')}`;
  const found = useServerState<Nearest>('dispatch', query && `/api/v1/volunteers/nearest?${query}`, { keepPrevious: true });
  const nearest = found.data?.features ?? null;
  const asked = useServerState<IssueDispatches>('dispatch', target?.issueId ? `/api/v1/issues/${target.issueId}/dispatches` : null);
  const requests = (target?.issueId && asked.data?.requests) || NO_REQUESTS;
  const error = refusal ?? [open, linked, found, asked].find((answer) => answer.error)?.error?.message ?? null;

  // the log tells of issues and dispatches as they happen, not of grids
  // an Effect Event: an entry is written in the language chosen when it comes, without subscribing anew when it changes
  const heard = useEffectEvent((event: ServerEvent) => {
    if (event.event !== 'issue' && event.event !== 'dispatch') return;
    const { data } = event;
    const text =
      event.event === 'dispatch'
        ? `#${data.issue_id} · ${data.rank ? `${t('dispatch.volunteer')} ${data.rank} · ` : ''}${t(`dispatch.state.${data.state}` as MessageKey) ?? data.state}`
        : `#${data.issue_id} · ${t('dispatch.issueChanged')}`;
    setLog((entries) => [{ id: event.id, text: `${new Date(String(data.at)).toLocaleTimeString()} ${text}` }, ...entries].slice(0, 8));
  });
  useEffect(() => subscribeEvents((event: ServerEvent) => heard(event)), []);

  const active = requests.find((r) => r.state === 'open' || r.state === 'assigned');
  const shown = active?.dispatches ?? requests.at(-1)?.dispatches ?? NO_DISPATCHES;

  useEffect(() => {
    const features: Feature[] = issues.map((issue) => ({
      type: 'Feature',
      id: issue.id,
      geometry: issue.geometry,
      properties: { kind: 'issue', selected: issue.id === target?.issueId },
    }));
    if (target) {
      features.push({ type: 'Feature', properties: { kind: 'target' }, geometry: { type: 'Point', coordinates: target.at } });
      for (const v of nearest ?? []) {
        features.push(route(target.at, v.geometry, 'nearest', `n${v.id}`));
        features.push({ type: 'Feature', id: v.id, properties: { kind: 'volunteer', state: 'nearest' }, geometry: v.geometry });
      }
      for (const d of shown) {
        if (!d.volunteer_point || !['offered', 'accepted', 'arrived'].includes(d.state)) continue;
        features.push(route(target.at, d.volunteer_point, d.state, `d${d.id}`));
        features.push({
          type: 'Feature',
          id: d.volunteer_id ?? undefined,
          properties: { kind: 'volunteer', state: d.state },
          geometry: d.volunteer_point,
        });
      }
    }
    onOverlay({ type: 'FeatureCollection', features });
  }, [issues, target, nearest, shown, onOverlay]);
  useEffect(() => () => onOverlay({ type: 'FeatureCollection', features: [] }), [onOverlay]);

  async function act(work: () => Promise<unknown>) {
    setBusy(true);
    setRefusal(null);
    try {
      await work();
      await changed('dispatch');
    } catch (e) {
      setRefusal((e as Error).message);
    } finally {
      setBusy(false);
    }
  }
  const dispatch = () => act(() => sendJson('POST', `/api/v1/issues/${target!.issueId}/dispatch`, { k, skill: skills }));
  const cancel = () =>
    act(async () => {
      const response = await apiFetch(`/api/v1/issues/${target!.issueId}/dispatch`, { method: 'DELETE' });
      if (!response.ok) throw new Error(await problemOf(response));
    });
  const selectedIssue = useMemo(() => issues.find((i) => i.id === target?.issueId), [issues, target?.issueId]);

  return (
    <aside className="panel dispatch" data-testid="dispatch-panel">
      <header>
        <h2>{t('dispatch.title')}</h2>
      </header>
      {volunteerShown ? <VolunteerCard id={volunteerShown} /> : <p className="hint">{t('dispatch.hint')}</p>}
      {/* at the top: on a phone the panel is a column, and a refusal below the open issues went unseen */}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <fieldset className="skills">
        <legend>{t('dispatch.skills')}</legend>
        {SKILLS.map((skill) => (
          <label key={skill}>
            <input
              type="checkbox"
              name="skill"
              value={skill}
              checked={skills.includes(skill)}
              onChange={(e) => setSkills(e.target.checked ? [...skills, skill] : skills.filter((s) => s !== skill))}
            />
            {t(`skill.${skill}` as MessageKey)}
          </label>
        ))}
      </fieldset>

      <h3>
        {t('dispatch.openIssues')} ({issues.length})
      </h3>
      <ul className="issue-list">
        {issues.slice(0, 50).map((issue) => (
          <li key={issue.id}>
            <button type="button" aria-pressed={issue.id === target?.issueId} onClick={() => navigate(`/dispatch/issues/${issue.id}`)}>
              #{issue.id} {issue.properties.title}{' '}
              <small>{maybe(`issueStatus.${issue.properties.status}`) ?? issue.properties.status}</small>
            </button>
          </li>
        ))}
      </ul>

      {target && (
        <>
          <h3>
            {selectedIssue ? `#${selectedIssue.id} ${selectedIssue.properties.title}` : t('dispatch.point')}
            <small>
              {' '}
              {target.at[0].toFixed(5)}, {target.at[1].toFixed(5)}
            </small>
          </h3>
          {target.issueId !== undefined && (
            <div className="dispatch-actions">
              {active ? (
                <>
                  <span>{t(`dispatch.request.${active.state}` as MessageKey)}</span>
                  <button type="button" disabled={busy} onClick={() => void cancel()}>
                    {t('dispatch.cancel')}
                  </button>
                </>
              ) : (
                <>
                  <label>
                    {t('dispatch.k')} <input type="number" min={1} max={20} value={k} onChange={(e) => setK(Number(e.target.value))} />
                  </label>
                  <button type="button" className="primary" disabled={busy} onClick={() => void dispatch()}>
                    {t('dispatch.send')}
                  </button>
                </>
              )}
            </div>
          )}
          {shown.length > 0 && (
            <ol className="dispatches" data-testid="dispatches">
              {shown.map((d) => {
                const name = <b>{d.volunteer_name ?? `${t('dispatch.volunteer')} ${d.rank}`}</b>;
                return (
                  <li key={d.id} data-state={d.state}>
                    {d.volunteer_id ? <Link href={volunteerPath(d.volunteer_id)}>{name}</Link> : name} · {metres(d.distance_m)} ·{' '}
                    <span className={`state ${d.state}`}>{t(`dispatch.state.${d.state}` as MessageKey)}</span>
                  </li>
                );
              })}
            </ol>
          )}
          <h3>{t('dispatch.nearest')}</h3>
          {nearest && nearest.length === 0 && <p className="hint">{t('dispatch.none')}</p>}
          <ol className="nearest" data-testid="nearest">
            {(nearest ?? []).map((v) => (
              <li key={v.id} data-volunteer={v.id}>
                <div>
                  <Link href={volunteerPath(v.id)}>
                    <b>{v.properties.name ?? '—'}</b>
                  </Link>{' '}
                  <span className="distance">{metres(v.properties.distance_m)}</span>
                </div>
                <div className="skills-list">{v.properties.skills.map((s) => t(`skill.${s}` as MessageKey)).join('、')}</div>
                <div className="contact">
                  {v.properties.phone ?? ''} {v.properties.grid_name ?? ''}
                  {v.properties.located === 'current' ? ` · ${t('dispatch.locatedNow')}` : ''}
                </div>
              </li>
            ))}
          </ol>
        </>
      )}
      <h3>{t('dispatch.live')}</h3>
      <ul className="event-log" data-testid="event-log">
        {log.map((entry) => (
          <li key={entry.id}>{entry.text}</li>
        ))}
      </ul>
    </aside>
  );
}
