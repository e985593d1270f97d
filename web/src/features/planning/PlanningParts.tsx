import type { FeatureCollection } from 'geojson';
import { useState } from 'react';
import { useI18n, type MessageKey } from '../../i18n.tsx';
import {
  AFTER_COLOUR,
  BAND_COLOURS,
  CHOSEN_COLOUR,
  DRAFT_COLOUR,
  MOVED_COLOUR,
  OVERLAP_COLOUR,
  PAST_COLOUR,
  UNCOVERED_COLOUR,
} from './layers.ts';
import { localToday, suggestGrids, type Community, type ImpactReport, type PlanGrid, type Suggestion } from './plans.ts';

export type Tool = 'edit' | 'split' | 'merge' | 'draw' | 'suggest';
const TOOLS: Tool[] = ['edit', 'split', 'merge', 'draw', 'suggest'];

/** The community planned: a choice among several, or the planner's one community named. */
export function CommunityChoice({
  communities,
  communityId,
  community,
  onChoose,
}: {
  communities: Community[] | null;
  /** the community in the address */
  communityId: number | null;
  /** …as the communities read name it */
  community: Community | null;
  onChoose: (community: Community | null) => void;
}) {
  const { t } = useI18n();
  if (communities && communities.length > 1)
    return (
      <label className="planning-community">
        {t('planning.community')}
        <select
          name="community"
          value={communityId ?? ''}
          onChange={(e) => onChoose(communities.find((c) => c.id === Number(e.target.value)) ?? null)}
        >
          <option value="">{t('planning.chooseCommunity')}</option>
          {communities.map((c) => (
            <option key={c.id} value={c.id}>
              {c.properties.name}
            </option>
          ))}
        </select>
      </label>
    );
  return (
    community && (
      <p className="planning-community">
        <b>{community.properties.name}</b> <small>{community.properties.code}</small>
      </p>
    )
  );
}

/** The planner's tools, the one in use pressed, and what it does. */
export function ToolBar({ tool, onChoose }: { tool: Tool; onChoose: (tool: Tool) => void }) {
  const { t } = useI18n();
  return (
    <>
      <div className="planning-tools" role="group" aria-label={t('planning.tools')}>
        {TOOLS.map((name) => (
          <button key={name} type="button" aria-pressed={tool === name} onClick={() => onChoose(name)}>
            {t(`planning.tool.${name}` as MessageKey)}
          </button>
        ))}
      </div>
      <p className="hint">{t(`planning.hint.${tool}` as MessageKey)}</p>
    </>
  );
}

/** The grid edited or split: its name, code, version and households. */
export function ChosenGrid({ grid }: { grid: PlanGrid }) {
  const { t } = useI18n();
  return (
    <p className="chosen-grid" data-testid="chosen-grid" data-grid={grid.id}>
      <b>{grid.properties.name}</b> <small>{grid.properties.code}</small> · {t('planning.version')}{' '}
      <span data-testid="grid-version">{grid.properties.version}</span> · {grid.properties.households ?? '—'} {t('planning.householdsUnit')}
    </p>
  );
}

/**
 * A new division of the community asked for (into `count` grids, as many as now when none is given), and what
 * the one suggested is like. The request on its way is this part's own; the count typed and the suggestion are
 * the view's (the count stays while another tool is used, the suggestion is the change weighed).
 */
export function SuggestTool({
  community,
  gridCount,
  count,
  onCount,
  suggestion,
  onSuggestion,
  onError,
}: {
  community: number;
  /** the community's grids now: the count when none is typed */
  gridCount: number;
  count: string;
  onCount: (count: string) => void;
  suggestion: Suggestion | null;
  onSuggestion: (suggestion: Suggestion) => void;
  /** a failure (null: the last one is past) */
  onError: (failure: unknown) => void;
}) {
  const { t } = useI18n();
  const [suggesting, setSuggesting] = useState(false);
  const suggest = async () => {
    setSuggesting(true);
    onError(null);
    try {
      onSuggestion(await suggestGrids(community, Number(count || gridCount)));
    } catch (e) {
      onError(e);
    } finally {
      setSuggesting(false);
    }
  };
  return (
    <div className="suggest">
      <label>
        {t('planning.suggestCount')}
        <input
          type="number"
          name="count"
          min={1}
          max={50}
          value={count}
          placeholder={String(gridCount)}
          onChange={(e) => onCount(e.target.value)}
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
  );
}

/** What the last save did: the change's number and its note. */
export function SavedNote({ saved }: { saved: ImpactReport }) {
  const { t } = useI18n();
  return (
    saved.change && (
      <p className="saved" data-testid="saved">
        {t('planning.savedAs')} #{saved.change.id}
        {saved.change.note && `: ${saved.change.note}`}
      </p>
    )
  );
}

/** A day to look back to (today at most), and the grids the community had at its end. */
export function AsOfSection({ asOf, past, onDay }: { asOf: string; past: FeatureCollection | null; onDay: (day: string) => void }) {
  const { t } = useI18n();
  return (
    <section className="as-of">
      <h3>{t('planning.asOf')}</h3>
      <label>
        {t('planning.asOfDate')}
        <input type="date" name="asOf" data-testid="as-of" value={asOf} max={localToday()} onChange={(e) => onDay(e.target.value)} />
      </label>
      {asOf && past && (
        <p className="hint" data-testid="as-of-grids">
          {past.features.length} {t('planning.gridsThen')}
          {past.features.length > 0 && `: ${past.features.map((f) => f.properties?.name).join('、')}`}
        </p>
      )}
    </section>
  );
}

/** What the colours on the planner's map mean. */
export function PlanningLegend() {
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
