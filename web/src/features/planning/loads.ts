import type { ApiAnswer } from '../../../../server/http/api.ts';
import { useEffect, useEffectEvent, useState } from 'react';
import type { Areas, GridFigures } from '../coverage/metrics.ts';
import {
  endOfLocalDay,
  getPlanJson,
  gridsAt,
  runProposal,
  type Community,
  type ImpactReport,
  type PlanGrid,
  type Proposal,
} from './plans.ts';

type Buildings = ApiAnswer<'GET /api/v1/buildings'>;
type PastGrids = Awaited<ReturnType<typeof gridsAt>>;

/** What the planner's view reads from the API: each hook reads one thing, and says when reading it failed. */
type OnError = (failure: unknown) => void;

/** The communities the viewer may plan, read once when the view opens. */
export function useCommunities(onLoaded: (communities: Community[]) => void, onError: OnError) {
  const [communities, setCommunities] = useState<Community[] | null>(null);
  // Effect Events: the callbacks as they are when the answer comes (the address as it is then), not a reason to read again
  const loaded = useEffectEvent(onLoaded);
  const failed = useEffectEvent(onError);
  useEffect(() => {
    getPlanJson<ApiAnswer<'GET /api/v1/communities'>>('/api/v1/communities?limit=10000').then(
      (answer) => {
        const list: Community[] = answer.features;
        setCommunities(list);
        loaded(list);
      },
      (e: unknown) => failed(e),
    );
  }, []);
  return communities;
}

/**
 * The community's grids with their versions and households, reloaded when `revision` changes; `current` while
 * they are those of the last revision asked for (after a save, the grids as they were until the reload answers).
 */
export function usePlanGrids(community: number | null, revision: number) {
  const [loaded, setLoaded] = useState<{ community: number; revision: number; grids: PlanGrid[] } | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    if (community === null) return;
    let current = true;
    Promise.all([
      getPlanJson<ApiAnswer<'GET /api/v1/grids'>>(`/api/v1/grids?community=${community}&limit=10000`),
      getPlanJson<Areas<GridFigures>>(`/api/v1/coverage/grids?community=${community}`),
    ]).then(
      ([grids, figures]) => {
        if (!current) return;
        const counted = new Map(figures.features.map((f) => [f.id, f.properties]));
        setLoaded({
          community,
          revision,
          grids: grids.features
            .map((g) => {
              const figures = counted.get(Number(g.id));
              const { code, name, version } = g.properties;
              return {
                type: 'Feature' as const,
                id: g.id,
                geometry: g.geometry,
                properties: { code, name, version, households: figures?.households ?? null, band: figures?.household_band ?? null },
              };
            })
            .sort((a, b) => a.properties.code.localeCompare(b.properties.code)),
        });
        setError(null);
      },
      (e: unknown) => current && setError(e),
    );
    return () => void (current = false);
  }, [community, revision]);
  const ours = loaded?.community === community;
  return { grids: ours ? loaded.grids : [], current: ours && loaded.revision === revision, error };
}

/** The community's building footprints, once per community: the impact names the buildings that move by id. */
export function useBuildings(community: number | null, onError: OnError) {
  const failed = useEffectEvent(onError);
  const [loaded, setLoaded] = useState<{ community: number; buildings: Buildings } | null>(null);
  useEffect(() => {
    if (community === null) return;
    let current = true;
    getPlanJson<Buildings>(`/api/v1/buildings?community=${community}&limit=10000`).then(
      (buildings) => current && setLoaded({ community, buildings }),
      (e: unknown) => current && failed(e),
    );
    return () => void (current = false);
  }, [community]);
  // another community's footprints are never shown, not even until this one's come
  return loaded?.community === community ? loaded.buildings : null;
}

/**
 * The day the planner looks back to, and the community's grids at the end of it where the planner is: read
 * again when `revision` changes (after a save: a change made today shows). Another day's grids stay until the
 * new day's come; no day, no grids. `reset` forgets both (another community).
 */
export function usePastGrids(community: number | null, revision: number, onError: OnError) {
  const failed = useEffectEvent(onError);
  const [asOf, setAsOf] = useState('');
  const [loaded, setLoaded] = useState<PastGrids | null>(null);
  useEffect(() => {
    if (community === null || !asOf) return;
    let current = true;
    gridsAt(community, endOfLocalDay(asOf)).then(
      (then) => current && setLoaded(then),
      (e: unknown) => current && failed(e),
    );
    return () => void (current = false);
  }, [community, asOf, revision]);
  return {
    asOf,
    past: community !== null && asOf ? loaded : null,
    chooseDay: (day: string) => {
      setAsOf(day);
      if (!day) setLoaded(null);
    },
    reset: () => {
      setAsOf('');
      setLoaded(null);
    },
  };
}

/** How long the shape must rest before it is weighed: a drag sends a dry run when it pauses, not on every move. */
const DRY_RUN_DELAY_MS = 300;

/** The dry run of the proposal: the last answer stays in view, marked pending, while a newer one is on its way. */
export function useImpact(proposal: Proposal | null) {
  const [answer, setAnswer] = useState<{ to: Proposal; report: ImpactReport | null; error: unknown } | null>(null);
  // no proposal: no answer kept; one whose impact is known: that is its answer, with no dry run (both as it renders)
  if (!proposal && answer !== null) setAnswer(null);
  if (proposal?.known && answer?.to !== proposal) setAnswer({ to: proposal, report: proposal.known, error: null });
  useEffect(() => {
    if (!proposal || proposal.known) return;
    const abort = new AbortController();
    const timer = setTimeout(
      () =>
        runProposal(proposal, null, abort.signal).then(
          (report) => setAnswer({ to: proposal, report, error: null }),
          (e: unknown) => !abort.signal.aborted && setAnswer({ to: proposal, report: null, error: e }),
        ),
      DRY_RUN_DELAY_MS,
    );
    return () => {
      clearTimeout(timer);
      abort.abort();
    };
  }, [proposal]);
  const current = answer?.to === proposal;
  return { report: answer?.report ?? null, error: current ? answer.error : null, pending: proposal !== null && !current };
}
