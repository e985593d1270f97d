import { bbox } from '@turf/bbox';
import type { FeatureCollection, LineString, Polygon, Position } from 'geojson';
import type { Map as MapLibreMap } from 'maplibre-gl';
import { useEffect, useMemo, useState } from 'react';
import { useLocation, useRoute } from 'wouter';
import { useI18n, type MessageKey } from '../../i18n.tsx';
import type { Areas, GridFigures } from '../coverage/metrics.ts';
import type { Bounds } from '../map/MapView.tsx';
import { usePick } from '../map/picks.tsx';
import { useGridEditor, type Sketch } from './editor.ts';
import { GridHistory } from './GridHistory.tsx';
import { HouseholdChart } from './HouseholdChart.tsx';
import { ImpactView, StaleNotice } from './ImpactView.tsx';
import {
  AFTER_COLOUR,
  BAND_COLOURS,
  CHOSEN_COLOUR,
  DRAFT_COLOUR,
  MOVED_COLOUR,
  OVERLAP_COLOUR,
  PAST_COLOUR,
  UNCOVERED_COLOUR,
  usePlanningMap,
} from './layers.ts';
import {
  create,
  draftPlan,
  endOfLocalDay,
  getPlanJson,
  gridHistory,
  gridsAt,
  localToday,
  merge,
  neighbourVersions,
  redraw,
  revert,
  runProposal,
  sameShape,
  split,
  StaleEdit,
  suggestGrids,
  type Community,
  type GridVersion,
  type ImpactReport,
  type PlanGrid,
  type Proposal,
  type Suggestion,
} from './plans.ts';
import { describeFailure, describeProblem, shapeReason, type ProblemNames } from './problems.ts';
import { nearRing } from './snapping.ts';

type Tool = 'edit' | 'split' | 'merge' | 'draw' | 'suggest';
const TOOLS: Tool[] = ['edit', 'split', 'merge', 'draw', 'suggest'];

/** How long the shape must rest before it is weighed: a drag sends a dry run when it pauses, not on every move. */
const DRY_RUN_DELAY_MS = 300;

/** The dry run of the proposal: the last answer stays in view, marked pending, while a newer one is on its way. */
function useImpact(proposal: Proposal | null) {
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

/**
 * The community's grids with their versions and households, reloaded when `revision` changes; `current` while
 * they are those of the last revision asked for (after a save, the grids as they were until the reload answers).
 */
function usePlanGrids(community: number | null, revision: number) {
  const [loaded, setLoaded] = useState<{ community: number; revision: number; grids: PlanGrid[] } | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    if (community === null) return;
    let current = true;
    Promise.all([
      getPlanJson<FeatureCollection<Polygon, { code: string; name: string; version: number }>>(
        `/api/v1/grids?community=${community}&limit=10000`,
      ),
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
                id: Number(g.id),
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

/**
 * 网格规划 Grid planning, for planners and admins: a community's grids coloured by their households against the
 * target band, with a bar chart of them; a grid's boundary reshaped by dragging its vertices (snapping to its
 * neighbours), split by a line, grids merged, a new grid drawn, or a whole new division suggested; each change
 * weighed by the API's dry run as it is made (what moves, the households after, overlaps, parts in no grid,
 * refusals) and saved with a note. A grid's history with revert, and the grids as they stood on a date.
 */
/** The community planned and the grid chosen, in the address: /planning/communities/3/grids/12. */
const planningPath = (community: number | null, grid: number | null = null) =>
  community === null ? '/planning' : `/planning/communities/${community}${grid === null ? '' : `/grids/${grid}`}`;

function usePlanningAddress() {
  const [, withGrid] = useRoute<{ community: string; grid: string }>('/planning/communities/:community/grids/:grid');
  const [, community] = useRoute<{ community: string }>('/planning/communities/:community');
  const id = (text: string | undefined) => (Number(text) > 0 ? Number(text) : null);
  return { communityId: id(withGrid?.community ?? community?.community), selected: id(withGrid?.grid) };
}

export function PlanningPanel({
  map,
  onFocus,
  onSaved,
}: {
  map: MapLibreMap | null;
  onFocus: (bounds: Bounds) => void;
  /** a change was saved: the map's own grid tiles are out of date */
  onSaved?: () => void;
}) {
  const { t } = useI18n();
  const [, navigate] = useLocation();
  const [communities, setCommunities] = useState<Community[] | null>(null);
  const { communityId, selected } = usePlanningAddress();
  const [revision, setRevision] = useState(0);
  const { grids, current: gridsCurrent, error: gridsError } = usePlanGrids(communityId, revision);
  const [buildings, setBuildings] = useState<FeatureCollection | null>(null);
  const [tool, setTool] = useState<Tool>('edit');
  const [mergeIds, setMergeIds] = useState<number[]>([]);
  const [adjustNeighbours, setAdjustNeighbours] = useState(true);
  /** the shape drawn or reshaped, as terra-draw last reported it */
  const [shape, setShape] = useState<Polygon | LineString | null>(null);
  const [revertTo, setRevertTo] = useState<number | null>(null);
  const [newName, setNewName] = useState('');
  const [count, setCount] = useState('');
  const [suggestion, setSuggestion] = useState<Suggestion | null>(null);
  const [suggesting, setSuggesting] = useState(false);
  const [asOf, setAsOf] = useState('');
  const [past, setPast] = useState<FeatureCollection | null>(null);
  // no community or no day: no past grids (put away as it renders; another day's stay until the new day's come)
  if ((communityId === null || !asOf) && past !== null) setPast(null);
  const [saving, setSaving] = useState(false);
  const [saved, setSaved] = useState<ImpactReport | null>(null);
  const [saveError, setSaveError] = useState<unknown>(null);
  /** a save refused as stale: what changed since; the save stays off until the grids are reloaded */
  const [stale, setStale] = useState<(GridVersion & { gridName: string })[] | null>(null);
  /** why terra-draw refused the last shape (its reason) */
  const [notice, setNotice] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  /** the note being typed for the save: work in progress, as a reshaped boundary is */
  const [note, setNote] = useState('');
  /** a new sketch each time the drawing starts over (after a save, or when discarded) */
  const [attempt, setAttempt] = useState(0);

  const community = communities?.find((c) => c.id === communityId) ?? null;
  const band = community ? { min: community.properties.grid_households_min, max: community.properties.grid_households_max } : null;
  const selectedGrid = grids.find((g) => g.id === selected) ?? null;
  const names = useMemo(() => new Map(grids.map((g) => [g.id, g.properties.name])), [grids]);
  // the grids outlined on the map and the chart: those to merge, or the one edited or split
  const chosen = useMemo(
    () => (tool === 'merge' ? mergeIds : (tool === 'edit' || tool === 'split') && selected !== null ? [selected] : []),
    [tool, mergeIds, selected],
  );
  const newGridName = newName.trim() || t('planning.newGridName');
  const codes = useMemo(() => new Map(grids.map((g) => [g.properties.code, g.properties.name])), [grids]);

  const chooseCommunity = (next: Community | null) => navigate(planningPath(next?.id ?? null));
  // another community or grid in the address (chosen, or Back): what was drawn or weighed for the last one goes
  const [shownFor, setShownFor] = useState({ communityId, selected });
  if (shownFor.communityId !== communityId || shownFor.selected !== selected) {
    setShownFor({ communityId, selected });
    startOver();
    if (shownFor.communityId !== communityId) {
      setStale(null);
      setPast(null);
      setAsOf('');
      setBuildings(null);
    }
  }
  useEffect(() => {
    getPlanJson<FeatureCollection>('/api/v1/communities?limit=10000').then(
      (loaded) => {
        const list = loaded.features as Community[];
        setCommunities(list);
        // a planner plans the one community of their scope
        if (list.length === 1 && communityId === null) navigate(planningPath(list[0].id), { replace: true });
      },
      (e: unknown) => setError(e),
    );
  }, []); // eslint-disable-line react-hooks/exhaustive-deps -- the communities once; the address as it was opened
  // the map goes to the community when it is chosen (or opened by its address)
  useEffect(() => {
    if (community) onFocus(bbox(community) as Bounds);
  }, [community, onFocus]);

  // the footprints once per community: the impact names the buildings that move by id
  useEffect(() => {
    if (communityId === null) return;
    let current = true;
    getPlanJson<FeatureCollection>(`/api/v1/buildings?community=${communityId}&limit=10000`).then(
      (loaded) => current && setBuildings(loaded),
      (e: unknown) => current && setError(e),
    );
    return () => void (current = false);
  }, [communityId]);

  /** Drops the change being weighed, and what was shown about the last one (a stale save's notice stays until the reload). */
  function startOver() {
    setShape(null);
    setRevertTo(null);
    setMergeIds([]);
    setSuggestion(null);
    setSaved(null);
    setSaveError(null);
    setNotice(null);
    setNote('');
    setAttempt((n) => n + 1);
  }
  const chooseTool = (next: Tool) => {
    setTool(next);
    startOver();
  };
  const chooseGrid = (id: number) => navigate(planningPath(communityId, id));
  const toggleMerged = (id: number) => setMergeIds((ids) => (ids.includes(id) ? ids.filter((i) => i !== id) : [...ids, id]));
  /** a boundary reshaped, a line drawn, a version to go back to or a note typed: choosing another grid would lose it */
  const working = shape !== null || revertTo !== null || note.trim() !== '';

  const proposal = useMemo<Proposal | null>(() => {
    if (communityId === null) return null;
    if (tool === 'suggest') return suggestion && draftPlan(communityId, suggestion, grids);
    if (tool === 'merge') {
      const merged = mergeIds.map((id) => grids.find((g) => g.id === id)).filter((g) => g !== undefined);
      return merged.length >= 2 ? merge(merged) : null;
    }
    if (tool === 'draw') return shape && create(communityId, shape as Polygon, newGridName);
    if (!selectedGrid) return null;
    if (tool === 'split') return shape && split(selectedGrid, shape as LineString);
    if (revertTo !== null) return revert(selectedGrid, revertTo, adjustNeighbours);
    return shape && redraw(selectedGrid, shape as Polygon, adjustNeighbours);
  }, [communityId, tool, suggestion, grids, mergeIds, shape, newGridName, selectedGrid, revertTo, adjustNeighbours]);
  const impact = useImpact(proposal);
  // what the map, chart and panel show: the change being weighed, else the one just saved
  const shown = proposal ? impact : { report: saved, pending: false, error: null };
  // a boundary dragged back as it was (or a version that is the boundary now) changes nothing: nothing to save
  const unchanged =
    tool === 'edit' &&
    selectedGrid !== null &&
    (revertTo === null
      ? shape?.type === 'Polygon' && sameShape(shape, selectedGrid.geometry)
      : !impact.pending && sameShapeAfter(impact.report, selectedGrid));

  /** How problems name grids: by the names loaded, or those the report gives (a grid the change creates). */
  const problemNames: ProblemNames = {
    grid: (id) =>
      id === null || id === undefined
        ? t('problem.newGrid')
        : (names.get(id) ?? shown.report?.grids.find((g) => g.id === id)?.name ?? `#${id}`),
    codes,
  };
  const describe = (failure: unknown) => describeFailure(failure, t, problemNames);

  const sketch = useMemo<Sketch>(() => {
    // after a save or a reload, nothing is drawn until the grids as they are now come: never the old boundary at its old version
    if (!gridsCurrent) return null;
    if (tool === 'draw') return { kind: 'polygon' };
    if (!selectedGrid) return null;
    if (tool === 'split') return { kind: 'line' };
    if (tool === 'edit' && revertTo === null) return { kind: 'boundary', polygon: selectedGrid.geometry };
    return null;
  }, [tool, selectedGrid, revertTo, attempt, gridsCurrent]); // eslint-disable-line react-hooks/exhaustive-deps -- a new attempt starts the same sketch afresh
  // vertices snap to the other grids' boundaries and the community's
  const snapRings = useMemo<Position[][]>(
    () => [
      ...grids.filter((g) => tool === 'draw' || g.id !== selected).map((g) => g.geometry.coordinates[0]),
      ...(community
        ? (community.geometry.type === 'Polygon' ? [community.geometry.coordinates] : community.geometry.coordinates).map((p) => p[0])
        : []),
    ],
    [grids, tool, selected, community],
  );

  usePlanningMap(map, {
    community: communityId,
    grids,
    chosen,
    buildings,
    impact: shown.report,
    draft: tool === 'suggest' ? (suggestion?.draft ?? null) : null,
    past,
    householdsUnit: t('planning.householdsUnit'),
  });
  useGridEditor(map, sketch, snapRings, {
    onShape: (drawn) => {
      // the end of a drag reports the shape its last move did: the same dry run again would be wasted
      setShape((last) => (last && JSON.stringify(last.coordinates) === JSON.stringify(drawn.coordinates) ? last : drawn));
      setSaved(null);
      setNotice(null);
    },
    onInvalid: setNotice,
  });

  // a click on the map: the grid to edit or split, or one more (or one fewer) to merge
  usePick((at) => {
    if (!map) return;
    const point = map.project(at);
    const [hit] = map.queryRenderedFeatures(point, { layers: ['planning-grids-fill'] });
    const id = hit ? Number(hit.id) : null;
    if (tool === 'merge') {
      if (id !== null) setMergeIds((ids) => (ids.includes(id) ? ids.filter((i) => i !== id) : [...ids, id]));
      return;
    }
    // a click while a line is drawn, during an edit, or on the edited boundary (a midpoint, a vertex) is part of the drawing
    if (tool !== 'edit' && !(tool === 'split' && !selectedGrid)) return;
    if (working) return;
    if (selectedGrid && nearRing(selectedGrid.geometry.coordinates[0], point, (lng, lat) => map.project([lng, lat]))) return;
    if (id !== null) chooseGrid(id);
  });

  // the grids at the end of the chosen day where the planner is; again after a save (a change made today shows)
  useEffect(() => {
    if (communityId === null || !asOf) return;
    let current = true;
    gridsAt(communityId, endOfLocalDay(asOf)).then(
      (then) => current && setPast(then),
      (e: unknown) => current && setError(e),
    );
    return () => void (current = false);
  }, [communityId, asOf, revision]);

  const save = async (text: string) => {
    if (!proposal || !impact.report || stale) return;
    setSaving(true);
    setSaveError(null);
    try {
      const report = await runProposal(proposal, { note: text, seen: impact.report });
      startOver();
      setSaved(report);
      setNewName('');
      setRevision((r) => r + 1);
      onSaved?.();
    } catch (e) {
      if (e instanceof StaleEdit) {
        // the save is off from now until the reload, while who changed what is fetched
        setStale([]);
        await showStale(proposal.neighbours ? [...proposal.basis, ...neighbourVersions(proposal, impact.report)] : proposal.basis);
      } else setSaveError(e);
    } finally {
      setSaving(false);
    }
  };
  /** The versions saved since the ones the refused change was made against. */
  const showStale = async (basis: Proposal['basis']) => {
    const newer = await Promise.all(
      basis.map(({ id, version }) =>
        gridHistory(id).then(
          (history) =>
            history.versions
              .filter((v) => v.version !== null && v.version > version)
              .map((v) => ({ ...v, gridName: names.get(id) ?? `#${id}` })),
          // a grid removed meanwhile has no history left to show: the notice still offers the reload
          () => [],
        ),
      ),
    );
    setStale(newer.flat());
  };
  const reload = () => {
    startOver();
    setStale(null);
    setRevision((r) => r + 1);
  };

  const suggest = async () => {
    if (communityId === null) return;
    setSuggesting(true);
    setError(null);
    try {
      setSuggestion(await suggestGrids(communityId, Number(count || grids.length)));
    } catch (e) {
      setError(e);
    } finally {
      setSuggesting(false);
    }
  };

  return (
    <aside className="panel planning" data-testid="planning">
      <h2>{t('planning.title')}</h2>
      {communities && communities.length > 1 ? (
        <label className="planning-community">
          {t('planning.community')}
          <select
            name="community"
            value={communityId ?? ''}
            onChange={(e) => chooseCommunity(communities.find((c) => c.id === Number(e.target.value)) ?? null)}
          >
            <option value="">{t('planning.chooseCommunity')}</option>
            {communities.map((c) => (
              <option key={c.id} value={c.id}>
                {c.properties.name}
              </option>
            ))}
          </select>
        </label>
      ) : (
        community && (
          <p className="planning-community">
            <b>{community.properties.name}</b> <small>{community.properties.code}</small>
          </p>
        )
      )}
      {error !== null && (
        <p className="error" role="alert" data-testid="planning-error">
          {describe(error)}
        </p>
      )}
      {gridsError !== null && (
        <p className="error" role="alert">
          {describe(gridsError)}
        </p>
      )}

      {community && band && (
        <>
          {/* a bar chooses a grid as a click on the map does: never while a shape is drawn, nor over work in progress */}
          <HouseholdChart
            grids={grids}
            band={band}
            impact={proposal ? shown.report : null}
            chosen={chosen}
            onChoose={tool === 'merge' ? toggleMerged : tool === 'edit' || tool === 'split' ? chooseGrid : null}
            locked={tool !== 'merge' && working}
          />

          <div className="planning-tools" role="group" aria-label={t('planning.tools')}>
            {TOOLS.map((name) => (
              <button key={name} type="button" aria-pressed={tool === name} onClick={() => chooseTool(name)}>
                {t(`planning.tool.${name}` as MessageKey)}
              </button>
            ))}
          </div>
          <p className="hint">{t(`planning.hint.${tool}` as MessageKey)}</p>

          {(tool === 'edit' || tool === 'split') && selectedGrid && (
            <p className="chosen-grid" data-testid="chosen-grid" data-grid={selectedGrid.id}>
              <b>{selectedGrid.properties.name}</b> <small>{selectedGrid.properties.code}</small> · {t('planning.version')}{' '}
              <span data-testid="grid-version">{selectedGrid.properties.version}</span> · {selectedGrid.properties.households ?? '—'}{' '}
              {t('planning.householdsUnit')}
            </p>
          )}
          {tool === 'edit' && (
            <label className="check">
              <input
                type="checkbox"
                name="adjustNeighbours"
                checked={adjustNeighbours}
                onChange={(e) => setAdjustNeighbours(e.target.checked)}
              />
              {t('planning.adjustNeighbours')}
            </label>
          )}
          {tool === 'merge' && (
            <p data-testid="merge-grids">{mergeIds.length ? mergeIds.map((id) => names.get(id)).join(' + ') : t('planning.noneChosen')}</p>
          )}
          {tool === 'draw' && (
            <label>
              {t('planning.newGridNameLabel')}
              <input name="name" value={newName} placeholder={t('planning.newGridName')} onChange={(e) => setNewName(e.target.value)} />
            </label>
          )}
          {tool === 'suggest' && (
            <div className="suggest">
              <label>
                {t('planning.suggestCount')}
                <input
                  type="number"
                  name="count"
                  min={1}
                  max={50}
                  value={count}
                  placeholder={String(grids.length)}
                  onChange={(e) => setCount(e.target.value)}
                />
              </label>
              <button type="button" onClick={suggest} disabled={suggesting} data-testid="suggest">
                {t(suggesting ? 'planning.suggesting' : 'planning.suggest')}
              </button>
              {suggestion && (
                <dl className="counts" data-testid="suggestion">
                  <div>
                    <dt>{t('planning.draftGrids')}</dt>
                    <dd data-count="grids">{suggestion.draft.features.length}</dd>
                  </div>
                  <div>
                    <dt>{t('planning.deviation')}</dt>
                    <dd data-count="deviation">{suggestion.households.max_deviation_pct.toFixed(1)}%</dd>
                  </div>
                  <div>
                    <dt>{t('planning.elapsed')}</dt>
                    <dd data-count="elapsed">{(suggestion.elapsed_ms / 1000).toFixed(1)} s</dd>
                  </div>
                  <div>
                    <dt>{t('planning.householdsRange')}</dt>
                    <dd>
                      {suggestion.households.min}–{suggestion.households.max}
                    </dd>
                  </div>
                  <div>
                    <dt>{t('planning.householdsMean')}</dt>
                    <dd>{Math.round(suggestion.households.mean)}</dd>
                  </div>
                </dl>
              )}
            </div>
          )}
          {notice !== null && (
            <p className="error" role="alert" data-testid="shape-notice">
              {shapeReason(notice, t)}
            </p>
          )}

          {stale && <StaleNotice changes={stale} onReload={reload} />}
          {(proposal || saved) && (
            <ImpactView
              key={attempt}
              report={shown.report}
              pending={shown.pending}
              error={shown.error === null ? null : describe(shown.error)}
              names={names}
              describe={(refusal) => describeProblem(refusal, t, problemNames)}
              saving={saving}
              saveError={saveError === null ? null : describe(saveError)}
              onSave={save}
              onDiscard={startOver}
              blocked={stale !== null}
              unchanged={unchanged}
              note={note}
              onNote={setNote}
              saveLabel={tool === 'suggest' ? t('planning.saveDraft') : t('planning.save')}
            />
          )}
          {saved?.change && (
            <p className="saved" data-testid="saved">
              {t('planning.savedAs')} #{saved.change.id}
              {saved.change.note && `: ${saved.change.note}`}
            </p>
          )}

          {tool === 'edit' && selectedGrid && (
            <GridHistory
              grid={selectedGrid}
              revertTo={revertTo}
              describe={describe}
              onRevert={(version) => {
                startOver();
                setRevertTo(version);
              }}
            />
          )}

          <section className="as-of">
            <h3>{t('planning.asOf')}</h3>
            <label>
              {t('planning.asOfDate')}
              <input
                type="date"
                name="asOf"
                data-testid="as-of"
                value={asOf}
                max={localToday()}
                onChange={(e) => setAsOf(e.target.value)}
              />
            </label>
            {asOf && past && (
              <p className="hint" data-testid="as-of-grids">
                {past.features.length} {t('planning.gridsThen')}
                {past.features.length > 0 && `: ${past.features.map((f) => f.properties?.name).join('、')}`}
              </p>
            )}
          </section>
          <PlanningLegend />
        </>
      )}
      {communities && !community && communities.length > 1 && <p className="hint">{t('planning.chooseCommunityHint')}</p>}
    </aside>
  );
}

/** Whether the dry run of a revert leaves the grid as it is now (the version is the boundary it has). */
function sameShapeAfter(report: ImpactReport | null, grid: PlanGrid) {
  const after = report?.grids.find((g) => g.id === grid.id);
  return !!after?.geometry && sameShape(after.geometry, grid.geometry) && report!.moved.buildings.length === 0;
}

/** What the colours on the planner's map mean. */
function PlanningLegend() {
  const { t } = useI18n();
  const items: [string, MessageKey, string?][] = [
    [BAND_COLOURS.below, 'planning.band.below'],
    [BAND_COLOURS.within, 'planning.band.within'],
    [BAND_COLOURS.above, 'planning.band.above'],
    [CHOSEN_COLOUR, 'planning.legendChosen', 'line'],
    [MOVED_COLOUR, 'planning.movedBuildings'],
    [AFTER_COLOUR, 'planning.legendAfter', 'line'],
    [OVERLAP_COLOUR, 'planning.overlaps'],
    [UNCOVERED_COLOUR, 'planning.uncovered'],
    [DRAFT_COLOUR, 'planning.legendDraft', 'dashed'],
    [PAST_COLOUR, 'planning.legendPast', 'dashed'],
  ];
  return (
    <ul className="planning-legend">
      {items.map(([colour, key, kind]) => (
        <li key={key}>
          <i className={kind} style={{ background: kind ? undefined : colour, borderColor: colour }} />
          {t(key)}
        </li>
      ))}
    </ul>
  );
}
