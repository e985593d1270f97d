import type { FormEvent } from 'react';
import { useI18n, type MessageKey } from '../../i18n.tsx';
import { useWhen } from '../walls/parts.tsx';
import { MOVED_COLOUR, OVERLAP_COLOUR, UNCOVERED_COLOUR } from './layers.ts';
import type { GridCounts, GridVersion, ImpactReport } from './plans.ts';
import type { Problem } from './problems.ts';

/** How many moved buildings and issues are named one by one; the rest are counted. */
const LISTED = 8;

const area = (m2: number | null) => (m2 === null ? '—' : Math.round(m2).toLocaleString());

/** A grid's people and open issues before and after, as a few figures on one line: those that change with an arrow. */
function People({ before, after }: { before: GridCounts | null; after: GridCounts | null }) {
  const { t } = useI18n();
  const figures: [keyof GridCounts, string][] = [
    ['residents', t('planning.residents')],
    ['members', t('planning.members')],
    ['volunteers', t('planning.volunteers')],
    ['open_issues', t('planning.openIssues')],
  ];
  return (
    <>
      {figures.map(([key, label], i) => {
        const [b, a] = [before?.[key] ?? null, after?.[key] ?? null];
        return (
          <span key={key} data-count={key} className={b !== a ? 'changes' : undefined}>
            {i > 0 && ' · '}
            {label} {b === a ? b : `${b ?? '—'} → ${a ?? '—'}`}
          </span>
        );
      })}
    </>
  );
}

/**
 * What a change does, from the API's dry run (or, once saved, what it did): each grid's households before and
 * after against the band, the buildings, members and open issues that change grid, overlaps and parts left in
 * no grid, and why it could not be saved; then the note and the save.
 */
export function ImpactView({
  report,
  pending,
  error,
  names,
  describe,
  saving,
  saveError,
  saveLabel,
  blocked,
  unchanged,
  note,
  onNote,
  onSave,
  onDiscard,
}: {
  report: ImpactReport | null;
  /** a newer dry run is on its way: what shows is the last one */
  pending: boolean;
  /** why the dry run failed, in the planner's words */
  error: string | null;
  /** grid names by id, for where things move from and to */
  names: Map<number, string>;
  /** a refusal in the planner's language */
  describe: (refusal: Problem) => string;
  saving: boolean;
  saveError: string | null;
  saveLabel: string;
  /** the save is off until the grids are reloaded (a save was refused as stale) */
  blocked: boolean;
  /** the change changes nothing (a boundary dragged back as it was): nothing to save */
  unchanged: boolean;
  note: string;
  onNote: (note: string) => void;
  onSave: (note: string) => void;
  onDiscard: () => void;
}) {
  const { t } = useI18n();
  const nameOf = (id: number | null) =>
    id === null ? t('planning.noGrid') : (names.get(id) ?? report?.grids.find((g) => g.id === id)?.name ?? `#${id}`);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    onSave(note.trim());
  };
  const state = pending ? 'pending' : error ? 'error' : report?.saved ? 'saved' : 'ready';
  // what a screen reader hears as the dry run goes and comes back (the table itself is not read out each time)
  const announced =
    state === 'pending'
      ? t('planning.working')
      : state === 'error'
        ? t('planning.live.error')
        : state === 'saved'
          ? t('planning.live.saved')
          : report && !report.saveable
            ? t('planning.live.readyRefused')
            : t('planning.live.ready');

  return (
    <section className="impact" data-testid="impact" data-state={state} aria-busy={pending}>
      <p className="sr-only" role="status" aria-live="polite" data-testid="impact-status">
        {announced}
      </p>
      <h3>
        {t(report?.saved ? 'planning.savedTitle' : 'planning.impactTitle')}{' '}
        {pending && <small aria-hidden="true">{t('planning.working')}</small>}
      </h3>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {report && (
        <>
          {report.refusals.length > 0 && (
            <ul className="refusals" data-testid="impact-refusals">
              {report.refusals.map((r, i) => (
                <li key={i} data-title={r.title}>
                  {describe(r)}
                </li>
              ))}
            </ul>
          )}
          <table className="impact-table">
            <thead>
              <tr>
                <th>{t('planning.grid')}</th>
                <th>{t('planning.householdsBefore')}</th>
                <th>{t('planning.householdsAfter')}</th>
                <th>{t('planning.area')}</th>
              </tr>
            </thead>
            <tbody>
              {report.grids.map((g) => [
                <tr key={g.id} data-testid={`impact-grid-${g.id}`} data-status={g.status}>
                  <th scope="row">
                    {g.name} <small>{t(`planning.status.${g.status}` as MessageKey)}</small>
                  </th>
                  <td data-testid={`impact-before-${g.id}`} className={g.before ? `band-${g.before.band}` : undefined}>
                    {g.before?.households ?? '—'}
                  </td>
                  <td data-testid={`impact-after-${g.id}`} className={g.after ? `band-${g.after.band}` : undefined}>
                    {g.after?.households ?? '—'}
                  </td>
                  <td>
                    {area(g.area_m2.before)} → {area(g.area_m2.after)}
                  </td>
                </tr>,
                <tr key={`${g.id}-people`} className="people" data-testid={`impact-people-${g.id}`}>
                  <td colSpan={4}>
                    <People before={g.before} after={g.after} />
                  </td>
                </tr>,
              ])}
            </tbody>
          </table>
          <dl className="counts">
            <div>
              <dt>
                <i style={{ background: MOVED_COLOUR }} />
                {t('planning.movedBuildings')}
              </dt>
              <dd data-testid="moved-buildings">{report.moved.buildings.length}</dd>
            </div>
            <div>
              <dt>{t('planning.movedMembers')}</dt>
              <dd data-testid="moved-members">{report.moved.members.length}</dd>
            </div>
            <div>
              <dt>{t('planning.movedIssues')}</dt>
              <dd data-testid="moved-issues">{report.moved.issues.length}</dd>
            </div>
          </dl>
          {(report.accounts?.length ?? 0) > 0 && (
            <ul className="moved-list accounts" data-testid="moved-accounts" aria-label={t('planning.accountsMoved')}>
              {report.accounts.map((a) => (
                <li key={a.id}>
                  {t('planning.gridWorker')} <b>{a.username}</b> {t('planning.movesTo')} {nameOf(a.to)}
                </li>
              ))}
            </ul>
          )}
          {report.moved.buildings.length + report.moved.issues.length > 0 && (
            <ul className="moved-list">
              {[
                ...report.moved.buildings.map((b) => ({ key: `b${b.id}`, what: b.name, from: b.from, to: b.to })),
                ...report.moved.issues.map((i) => ({ key: `i${i.id}`, what: i.title, from: i.from, to: i.to })),
              ]
                .slice(0, LISTED)
                .map((m) => (
                  <li key={m.key}>
                    {m.what}: {nameOf(m.from)} → {nameOf(m.to)}
                  </li>
                ))}
              {report.moved.buildings.length + report.moved.issues.length > LISTED && <li>…</li>}
            </ul>
          )}
          {report.overlaps.length > 0 && (
            <p className="warning" data-testid="impact-overlaps">
              <i style={{ background: OVERLAP_COLOUR }} />
              {t('planning.overlaps')}:{' '}
              {report.overlaps.map((o) => `${o.codes.map((c) => c.slice(-3)).join('/')} ${area(o.area_m2)} m²`).join('; ')}
            </p>
          )}
          {report.uncovered.length > 0 && (
            <p className="warning" data-testid="impact-uncovered">
              <i style={{ background: UNCOVERED_COLOUR }} />
              {t('planning.uncovered')}: {area(report.uncovered.reduce((s, u) => s + u.area_m2, 0))} m²
              {report.uncovered.some((u) => u.new) && ` (${t('planning.uncoveredNew')})`}
            </p>
          )}
        </>
      )}
      {!report?.saved && (
        <form className="save-form" onSubmit={submit}>
          <label>
            {t('planning.note')}
            <textarea
              data-testid="plan-note"
              name="note"
              rows={2}
              required
              value={note}
              onChange={(e) => onNote(e.target.value)}
              placeholder={t('planning.notePlaceholder')}
            />
          </label>
          {unchanged && (
            <p className="hint" data-testid="plan-unchanged">
              {t('planning.unchanged')}
            </p>
          )}
          {saveError && (
            <p className="error" role="alert">
              {saveError}
            </p>
          )}
          <div className="form-buttons">
            <button
              type="submit"
              className="primary"
              data-testid="plan-save"
              disabled={!report?.saveable || pending || saving || blocked || unchanged}
            >
              {saveLabel}
            </button>
            <button type="button" onClick={onDiscard}>
              {t('planning.discard')}
            </button>
          </div>
        </form>
      )}
    </section>
  );
}

/** A save refused because the grids changed meanwhile: who changed them, when and why; and a reload. */
export function StaleNotice({ changes, onReload }: { changes: (GridVersion & { gridName: string })[]; onReload: () => void }) {
  const { t } = useI18n();
  const when = useWhen();
  return (
    <section className="stale" data-testid="stale" role="alert">
      <h3>{t('planning.staleTitle')}</h3>
      <ul>
        {changes.map((c) => (
          <li key={`${c.gridName}-${c.version}`}>
            <b>
              {c.gridName} v{c.version}
            </b>{' '}
            · {t(`planning.kind.${c.kind}` as MessageKey)} · {c.user?.username ?? '—'} · {when(c.at)}
            {c.note && <div className="note">{c.note}</div>}
          </li>
        ))}
      </ul>
      <button type="button" className="primary" onClick={onReload}>
        {t('planning.reload')}
      </button>
    </section>
  );
}
