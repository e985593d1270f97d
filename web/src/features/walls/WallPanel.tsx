import { bbox } from '@turf/bbox';
import type { Feature, FeatureCollection } from 'geojson';
import { useEffect, useMemo, useRef, useState } from 'react';
import { useLocation, useSearch } from 'wouter';
import { useI18n, type MessageKey } from '../../i18n.tsx';
import { useChanged, useServerState } from '../../serverState.ts';
import type { User } from '../auth/session.tsx';
import type { Bounds } from '../map/MapView.tsx';
import { pointOf, pointParam, usePick } from '../map/picks.tsx';
import { ISSUE_STATUS_COLOURS, OVERDUE_COLOUR } from '../map/style.ts';
import { IssuePage } from './IssuePage.tsx';
import {
  categoryName,
  useCategories,
  wallOf,
  wallUrl,
  type Category,
  type Issue,
  type Wall,
  type WallIssue,
  type WallRef,
} from './issues.ts';
import { StatusBadge, useWhen } from './parts.tsx';
import { ReportForm } from './ReportForm.tsx';
import { homeWall, WallPicker } from './WallPicker.tsx';

/** What the panel shows, from the address: the wall's list, one issue's page, or the form to report a new one at a point. */
type Page = { kind: 'list'; wall: WallRef | null } | { kind: 'issue'; id: number } | { kind: 'report'; at: [number, number] | null };

/** A wall's address (`/walls` is the one last shown, at first the user's own). */
export const wallPath = (wall: WallRef | null) => (wall ? `/walls/${wall.level}/${wall.id}` : '/walls');
export const issuePath = (id: number) => `/issues/${id}`;
const reportPath = (at: [number, number] | null) => (at ? `/issues/new?at=${pointParam(at)}` : '/issues/new');

function usePage(): Page {
  const [path] = useLocation();
  const search = useSearch();
  return useMemo(() => {
    const [, first, second, third] = path.split('/');
    if (first === 'issues' && second === 'new') return { kind: 'report', at: pointOf(search) };
    if (first === 'issues' && Number(second) > 0) return { kind: 'issue', id: Number(second) };
    const level = ['grid', 'community', 'street'].includes(second) ? (second as WallRef['level']) : null;
    return { kind: 'list', wall: level && third ? { level, id: third } : null };
  }, [path, search]);
}

/** The states a wall holds, for the legend. */
const ON_WALL = ['reported', 'accepted', 'in_progress', 'escalated', 'reopened', 'resolved'];

/**
 * The problem wall: the issues of a grid's, community's or street's wall beside the map (oldest due first,
 * overdue in red) and as pins coloured by state; a click on a pin or a row opens the issue, a click on the
 * map elsewhere reports a new one there. Issue events from the stream reload it.
 */
export function WallPanel({
  user,
  onOverlay,
  onFocus,
}: {
  user: User;
  onOverlay: (overlay: FeatureCollection) => void;
  /** moves the map to a wall's issues */
  onFocus: (bounds: Bounds) => void;
}) {
  const { t } = useI18n();
  const categories = useCategories();
  const mayReport = user.permissions.issues?.includes('create') ?? false;
  const [, navigate] = useLocation();
  const page = usePage();
  // the wall last listed stays in view (its pins on the map, Back from an issue) while an issue is open
  const [wallRef, setWallRef] = useState<WallRef | null>(() => (page.kind === 'list' && page.wall) || homeWall(user.scope));
  if (page.kind === 'list' && page.wall && (page.wall.level !== wallRef?.level || page.wall.id !== wallRef.id)) setWallRef(page.wall);
  // the issue marked in the list and on the map: the one open, else the last opened or reported
  const [selected, setSelected] = useState<number | null>(null);
  if (page.kind === 'issue' && page.id !== selected) setSelected(page.id);
  // what a report's pictures could not do
  const [error, setError] = useState<string | null>(null);
  const changed = useChanged();
  // any issue event may move an issue onto or off this wall
  const loaded = useServerState<Wall>('issue', wallRef && wallUrl(wallRef), { keepPrevious: true });
  const wall = loaded.data ?? null;
  // the map goes to a wall when it is chosen, not each time it is read again
  const focused = useRef<string | null>(null);
  useEffect(() => {
    const key = wall && `${wall.wall.level}:${wall.wall.id}`;
    if (wall && focused.current !== key && wall.features.length > 0) {
      focused.current = key;
      onFocus(bbox(wall) as Bounds);
    }
  }, [wall, onFocus]);

  const open = (id: number) => navigate(issuePath(id));
  // a click on the map: the point of the report being written, else the issue hit, else a new report there
  usePick((at, issueId) => {
    if (page.kind === 'report') navigate(reportPath(at), { replace: true });
    else if (issueId !== undefined) open(issueId);
    else if (mayReport) navigate(reportPath(at));
  });
  const showWall = (next: WallRef) => navigate(wallPath(next), { replace: wallRef === null });

  useEffect(() => {
    const features: Feature[] = (wall?.features ?? []).map((issue) => ({
      ...issue,
      properties: { kind: 'issue', status: issue.properties.status, overdue: issue.properties.overdue, selected: issue.id === selected },
    }));
    if (page.kind === 'report' && page.at)
      features.push({ type: 'Feature', properties: { kind: 'target' }, geometry: { type: 'Point', coordinates: page.at } });
    onOverlay({ type: 'FeatureCollection', features });
  }, [wall, selected, page, onOverlay]);
  useEffect(() => () => onOverlay({ type: 'FeatureCollection', features: [] }), [onOverlay]);

  /** A new issue is shown on the wall it landed on, which may not be the one in view. */
  const reported = (issue: Issue, problem?: string) => {
    void changed('issue');
    setSelected(issue.id);
    setError(problem ?? null);
    navigate(wallPath(wallOf(issue.properties)), { replace: true });
  };
  const toList = () => navigate(wallPath(wallRef));

  return (
    <aside className="panel walls" data-testid="wall-panel">
      <header>
        <h2>{t('wall.title')}</h2>
      </header>
      {(error ?? loaded.error) && (
        <p className="error" role="alert">
          {error ?? loaded.error?.message}
        </p>
      )}
      {page.kind === 'issue' ? (
        <IssuePage key={page.id} id={page.id} user={user} categories={categories} onOpen={open} onBack={toList} />
      ) : page.kind === 'report' ? (
        <ReportForm at={page.at} categories={categories} onReported={reported} onOpen={open} onCancel={toList} />
      ) : (
        <>
          {mayReport && <AwaitingRating userId={user.id} categories={categories} onOpen={open} />}
          <WallPicker user={user} wall={wallRef} onWall={showWall} />
          {mayReport && (
            <button type="button" className="primary report-button" onClick={() => navigate(reportPath(null))}>
              {t('wall.report')}
            </button>
          )}
          <p className="hint">{t(mayReport ? 'wall.hintReport' : 'wall.hint')}</p>
          {wall && <WallList wall={wall} categories={categories} selected={selected} onOpen={open} />}
        </>
      )}
    </aside>
  );
}

function WallList({
  wall,
  categories,
  selected,
  onOpen,
}: {
  wall: Wall;
  categories: Category[];
  selected: number | null;
  onOpen: (id: number) => void;
}) {
  const { t, maybe } = useI18n();
  return (
    <>
      <h3 className="wall-summary" data-testid="wall-summary">
        {wall.wall.name} · {t(`wallLevel.${wall.wall.level}` as MessageKey)}
        <small>
          {' '}
          {t('wall.total')} {wall.total}
          {wall.overdue > 0 && (
            <b className="overdue-label">
              {' '}
              {t('wall.overdueCount')} {wall.overdue}
            </b>
          )}
        </small>
      </h3>
      {wall.features.length === 0 && <p className="hint">{t('wall.empty')}</p>}
      <ul className="wall-list" data-testid="wall-list">
        {wall.features.map((issue) => (
          <IssueRow key={issue.id} issue={issue} categories={categories} selected={issue.id === selected} onOpen={onOpen} />
        ))}
      </ul>
      {wall.total > wall.features.length && (
        <p className="hint">
          {t('wall.more')} {wall.features.length} / {wall.total}
        </p>
      )}
      <ul className="wall-legend" aria-label={t('legend.title')}>
        {ON_WALL.map((status) => (
          <li key={status}>
            <i style={{ background: ISSUE_STATUS_COLOURS[status] }} />
            {maybe(`issueStatus.${status}`) ?? status}
          </li>
        ))}
        <li>
          <i className="ring" style={{ borderColor: OVERDUE_COLOUR }} />
          {t('wall.overdue')}
        </li>
      </ul>
    </>
  );
}

/** An issue in a list: its state, title, category and due time, overdue in red. */
function IssueRow({
  issue: { id, properties: issue },
  categories,
  selected,
  onOpen,
}: {
  issue: WallIssue | Issue;
  categories: Category[];
  selected: boolean;
  onOpen: (id: number) => void;
}) {
  const { t } = useI18n();
  const when = useWhen();
  const overdue = 'overdue' in issue && issue.overdue;
  return (
    <li data-issue={id} className={overdue ? 'overdue' : undefined}>
      <button type="button" aria-pressed={selected} onClick={() => onOpen(id)}>
        <span className="wall-row">
          <StatusBadge status={issue.status} />
          <b>{issue.title}</b>
        </span>
        <small>
          #{id} · {categoryName(categories, issue.category)} · {t('issue.dueAt')} {when(issue.due_at)}
          {overdue && <em className="overdue-label"> {t('wall.overdue')}</em>}
        </small>
      </button>
    </li>
  );
}

/** The reporter's answered issues: off the walls, they wait for its rating. */
function AwaitingRating({ userId, categories, onOpen }: { userId: number; categories: Category[]; onOpen: (id: number) => void }) {
  const { t } = useI18n();
  const answered = (
    useServerState<{ features: Issue[] }>('issue', '/api/v1/issues?status=answered&limit=1000').data?.features ?? []
  ).filter((f) => f.properties.reported_by === userId);
  if (answered.length === 0) return null;
  return (
    <section className="awaiting-rating">
      <h3>{t('wall.toRate')}</h3>
      <ul className="wall-list" data-testid="awaiting-rating">
        {answered.map((issue) => (
          <IssueRow key={issue.id} issue={issue} categories={categories} selected={false} onOpen={onOpen} />
        ))}
      </ul>
    </section>
  );
}
