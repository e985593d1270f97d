import { bbox } from '@turf/bbox';
import type { LineString, Polygon, Position } from 'geojson';
import type { Map as MapLibreMap } from 'maplibre-gl';
import { useEffect, useMemo, useState } from 'react';
import { useLocation, useRoute } from 'wouter';
import { useI18n } from '../../i18n.tsx';
import type { Bounds } from '../map/MapView.tsx';
import { usePick } from '../map/picks.tsx';
import { useChange } from './change.ts';
import { useGridEditor, type Sketch } from './editor.ts';
import { GridHistory } from './GridHistory.tsx';
import { HouseholdChart } from './HouseholdChart.tsx';
import { ImpactView, StaleNotice } from './ImpactView.tsx';
import { usePlanningMap } from './layers.ts';
import { useBuildings, useCommunities, useImpact, usePastGrids, usePlanGrids } from './loads.ts';
import { AsOfSection, ChosenGrid, CommunityChoice, PlanningLegend, SavedNote, SuggestTool, ToolBar, type Tool } from './PlanningParts.tsx';
import {
  create,
  draftPlan,
  merge,
  redraw,
  revert,
  sameShape,
  split,
  type Community,
  type ImpactReport,
  type PlanGrid,
  type Proposal,
} from './plans.ts';
import { describeFailure, describeProblem, shapeReason, type ProblemNames } from './problems.ts';
import { usePlanSave } from './saving.ts';
import { nearRing } from './snapping.ts';

/** The community planned and the grid chosen, in the address: /planning/communities/3/grids/12. */
const planningPath = (community: number | null, grid: number | null = null) =>
  community === null ? '/planning' : `/planning/communities/${community}${grid === null ? '' : `/grids/${grid}`}`;

function usePlanningAddress() {
  const [, withGrid] = useRoute<{ community: string; grid: string }>('/planning/communities/:community/grids/:grid');
  const [, community] = useRoute<{ community: string }>('/planning/communities/:community');
  const id = (text: string | undefined) => (Number(text) > 0 ? Number(text) : null);
  return { communityId: id(withGrid?.community ?? community?.community), selected: id(withGrid?.grid) };
}

/**
 * 网格规划 Grid planning, for planners and admins: a community's grids coloured by their households against the
 * target band, with a bar chart of them; a grid's boundary reshaped by dragging its vertices (snapping to its
 * neighbours), split by a line, grids merged, a new grid drawn, or a whole new division suggested; each change
 * weighed by the API's dry run as it is made (what moves, the households after, overlaps, parts in no grid,
 * refusals) and saved with a note. A grid's history with revert, and the grids as they stood on a date.
 *
 * This view puts the parts together: what is read from the API (loads.ts), the change being made (change.ts)
 * and its save (saving.ts) are hooks of their own, the panel's pieces components (PlanningParts.tsx); here are
 * the tool in use with its settings, the address, and the map.
 */
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
  const { communityId, selected } = usePlanningAddress();
  /** the last failure to read what the view shows, or to suggest a division */
  const [error, setError] = useState<unknown>(null);
  const communities = useCommunities((list) => {
    // a planner plans the one community of their scope
    if (list.length === 1 && communityId === null) navigate(planningPath(list[0].id), { replace: true });
  }, setError);
  const plan = usePlanSave();
  const { grids, current: gridsCurrent, error: gridsError } = usePlanGrids(communityId, plan.revision);
  const buildings = useBuildings(communityId, setError);
  const { asOf, past, chooseDay, reset: forgetDay } = usePastGrids(communityId, plan.revision, setError);
  const change = useChange();
  const { shape, revertTo, mergeIds, suggestion, note, notice, attempt, working } = change;
  const [tool, setTool] = useState<Tool>('edit');
  const [adjustNeighbours, setAdjustNeighbours] = useState(true);
  const [newName, setNewName] = useState('');
  /** how many grids to suggest: kept while another tool is used */
  const [count, setCount] = useState('');

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

  /** Drops the change being weighed, and what was shown about the last one (a stale save's notice stays until the reload). */
  const startOver = () => {
    change.startOver();
    plan.forget();
  };
  // another community or grid in the address (chosen, or Back): what was drawn or weighed for the last one goes
  const [shownFor, setShownFor] = useState({ communityId, selected });
  if (shownFor.communityId !== communityId || shownFor.selected !== selected) {
    setShownFor({ communityId, selected });
    startOver();
    if (shownFor.communityId !== communityId) {
      plan.forgetStale();
      forgetDay();
    }
  }
  // the map goes to the community when it is chosen (or opened by its address)
  useEffect(() => {
    if (community) onFocus(bbox(community) as Bounds);
  }, [community, onFocus]);

  const chooseCommunity = (next: Community | null) => navigate(planningPath(next?.id ?? null));
  const chooseTool = (next: Tool) => {
    setTool(next);
    startOver();
  };
  const chooseGrid = (id: number) => navigate(planningPath(communityId, id));

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
  const shown = proposal ? impact : { report: plan.saved, pending: false, error: null };
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
      change.draw(drawn);
      plan.forgetSaved();
    },
    onInvalid: change.refuse,
  });

  // a click on the map: the grid to edit or split, or one more (or one fewer) to merge
  usePick((at) => {
    if (!map) return;
    const point = map.project(at);
    const [hit] = map.queryRenderedFeatures(point, { layers: ['planning-grids-fill'] });
    const id = hit ? Number(hit.id) : null;
    if (tool === 'merge') {
      if (id !== null) change.toggleMerged(id);
      return;
    }
    // a click while a line is drawn, during an edit, or on the edited boundary (a midpoint, a vertex) is part of the drawing
    if (tool !== 'edit' && !(tool === 'split' && !selectedGrid)) return;
    if (working) return;
    if (selectedGrid && nearRing(selectedGrid.geometry.coordinates[0], point, (lng, lat) => map.project([lng, lat]))) return;
    if (id !== null) chooseGrid(id);
  });

  const save = (text: string) => {
    if (!proposal || !impact.report || plan.stale) return;
    void plan.save(
      proposal,
      impact.report,
      text,
      (id) => names.get(id) ?? `#${id}`,
      () => {
        startOver();
        setNewName('');
        onSaved?.();
      },
    );
  };
  const reload = () => {
    startOver();
    plan.reload();
  };

  return (
    <aside className="panel planning" data-testid="planning">
      <h2>{t('planning.title')}</h2>
      <CommunityChoice communities={communities} communityId={communityId} community={community} onChoose={chooseCommunity} />
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
            onChoose={tool === 'merge' ? change.toggleMerged : tool === 'edit' || tool === 'split' ? chooseGrid : null}
            locked={tool !== 'merge' && working}
          />

          <ToolBar tool={tool} onChoose={chooseTool} />

          {(tool === 'edit' || tool === 'split') && selectedGrid && <ChosenGrid grid={selectedGrid} />}
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
            <SuggestTool
              community={community.id}
              gridCount={grids.length}
              count={count}
              onCount={setCount}
              suggestion={suggestion}
              onSuggestion={change.suggest}
              onError={setError}
            />
          )}
          {notice !== null && (
            <p className="error" role="alert" data-testid="shape-notice">
              {shapeReason(notice, t)}
            </p>
          )}

          {plan.stale && <StaleNotice changes={plan.stale} onReload={reload} />}
          {(proposal || plan.saved) && (
            <ImpactView
              key={attempt}
              report={shown.report}
              pending={shown.pending}
              error={shown.error === null ? null : describe(shown.error)}
              names={names}
              describe={(refusal) => describeProblem(refusal, t, problemNames)}
              saving={plan.saving}
              saveError={plan.error === null ? null : describe(plan.error)}
              onSave={save}
              onDiscard={startOver}
              blocked={plan.stale !== null}
              unchanged={unchanged}
              note={note}
              onNote={change.writeNote}
              saveLabel={tool === 'suggest' ? t('planning.saveDraft') : t('planning.save')}
            />
          )}
          {plan.saved && <SavedNote saved={plan.saved} />}

          {tool === 'edit' && selectedGrid && (
            <GridHistory
              grid={selectedGrid}
              revertTo={revertTo}
              describe={describe}
              onRevert={(version) => {
                startOver();
                change.revert(version);
              }}
            />
          )}

          <AsOfSection asOf={asOf} past={past} onDay={chooseDay} />
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
