import type { Feature, FeatureCollection, Geometry } from 'geojson';
import type { ExpressionSpecification } from 'maplibre-gl';

/** The areas the map is coloured by. */
export type Level = 'communities' | 'grids';

/** A community's staffing against the standard for the people it serves; a grid's households against its band. */
export type Staffing = 'short' | 'within' | 'over' | 'unknown';
export type HouseholdBand = 'below' | 'within' | 'above';

/** The figures every area has, as GET /api/v1/coverage/… and the grids' vector tiles give them (null: nothing to divide). */
interface Figures {
  code: string; name: string;
  households: number; residents: number; party_group_share: number | null;
  members: number; volunteers: number; volunteers_available: number;
  members_per_100_households: number | null; volunteers_per_100_households: number | null;
  households_reached: number; volunteer_reach: number | null;
  open_issues: number; overdue_issues: number; closed_issues: number;
  closure_rate: number | null; median_days_to_close: number | null;
  band_min: number; band_max: number;
}
export interface CommunityFigures extends Figures {
  street_code: string; street_name: string;
  staff_count: number | null; staff_required_min: number; staff_required_max: number; people_served: number; staffing: Staffing;
}
export interface GridFigures extends Figures {
  community_id: number; community_name: string; household_band: HouseholdBand;
}
export type Area<P> = Feature<Geometry, P> & { id: number };
export interface Areas<P> extends FeatureCollection<Geometry, P> { features: Area<P>[] }

/** `people`: the members or volunteers counted in a hexagon. */
export type Unit = 'percent' | 'per100' | 'households' | 'issues' | 'days' | 'people';
export type NumericKey = 'volunteer_reach' | 'members_per_100_households' | 'volunteers_per_100_households' | 'party_group_share'
  | 'households' | 'open_issues' | 'overdue_issues' | 'closure_rate' | 'median_days_to_close';
export type MetricKey = NumericKey | 'staffing';

interface Numeric {
  key: NumericKey;
  unit: Unit;
  /** which end needs the leader's attention: it is drawn red and ranked first */
  worse: 'low' | 'high';
}

export const NUMERIC_METRICS: Numeric[] = [
  { key: 'volunteer_reach', unit: 'percent', worse: 'low' },
  { key: 'members_per_100_households', unit: 'per100', worse: 'low' },
  { key: 'volunteers_per_100_households', unit: 'per100', worse: 'low' },
  { key: 'party_group_share', unit: 'percent', worse: 'low' },
  { key: 'households', unit: 'households', worse: 'high' },
  { key: 'open_issues', unit: 'issues', worse: 'high' },
  { key: 'overdue_issues', unit: 'issues', worse: 'high' },
  { key: 'closure_rate', unit: 'percent', worse: 'low' },
  { key: 'median_days_to_close', unit: 'days', worse: 'high' },
];
export const METRIC_KEYS: MetricKey[] = [...NUMERIC_METRICS.map((m) => m.key), 'staffing'];
export const numericMetric = (key: MetricKey) => NUMERIC_METRICS.find((m) => m.key === key);

/** How finely each unit is told apart: the class breaks are rounded to it. */
const STEP: Record<Unit, number> = { percent: 0.01, per100: 0.1, households: 1, issues: 1, days: 0.1, people: 1 };
const WHOLE: Unit[] = ['households', 'issues', 'people'];

/** A figure as the table and legend write it (`fine`: a rate to the tenth of a percent). */
export function formatValue(unit: Unit, value: number | null, fine = false): string {
  if (value === null) return '—';
  if (unit === 'percent') return `${(value * 100).toFixed(fine ? 1 : 0)}%`;
  return WHOLE.includes(unit) ? String(Math.round(value)) : value.toFixed(1);
}

/** Worst to best: red, orange, yellow, light green, green (ColorBrewer RdYlGn). */
const BAD_TO_GOOD = ['#d7191c', '#fdae61', '#fee08b', '#a6d96a', '#1a9641'];
export const NO_DATA_COLOUR = '#bdbdbd';

/** The colour of each standard's state: short or overloaded red, the milder miss orange, met green. */
const STANDARD_COLOURS: Record<Staffing | HouseholdBand, string> = {
  short: '#d7191c', above: '#d7191c', over: '#fdae61', below: '#fdae61', unknown: NO_DATA_COLOUR, within: '#1a9641',
};
/** Worst first, for the ranking. */
const STANDARD_ORDER: (Staffing | HouseholdBand)[] = ['short', 'above', 'unknown', 'over', 'below', 'within'];
const STANDARDS: Record<Level, (Staffing | HouseholdBand)[]> = {
  communities: ['short', 'over', 'within', 'unknown'],
  grids: ['above', 'below', 'within'],
};
/** The property that says whether an area meets its standard. */
export const STANDARD_PROPERTY: Record<Level, 'staffing' | 'household_band'> = { communities: 'staffing', grids: 'household_band' };

/**
 * One class of a legend: its colour and the values it holds, from `from` up to `to` (the last class up to
 * and with `to`, the highest value); or, for a standard, the state it stands for.
 */
export interface LegendClass { colour: string; from?: number; to?: number; state?: Staffing | HouseholdBand }

/**
 * Up to five classes of about as many areas each (quantiles), coloured along `ramp` from the lowest values
 * up. Each break is the roundest number between the last value below it and the first above, so the legend
 * reads plainly ("< 50%", not "< 47.83%") and no area changes class for it.
 */
export function classify(values: (number | null)[], unit: Unit, ramp: string[]): LegendClass[] {
  const sorted = values.filter((v): v is number => v !== null && Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return [];
  const step = STEP[unit];
  const roundest = (above: number, upTo: number) => {
    for (const s of [100 * step, 10 * step, step]) {
      const at = Number((Math.floor(upTo / s) * s).toFixed(4));
      if (at > above) return at;
    }
    return upTo;
  };
  const breaks: number[] = [];
  for (let i = 1; i < 5; i++) {
    const at = Math.floor((i * sorted.length) / 5);
    // a break between equal values, or where the last one is (few areas), would leave a class empty
    if (at === 0 || sorted[at] === sorted[at - 1]) continue;
    const limit = roundest(sorted[at - 1], sorted[at]);
    if (limit > (breaks.at(-1) ?? -Infinity)) breaks.push(limit);
  }
  const bounds = [sorted[0], ...breaks, sorted.at(-1)!];
  const count = breaks.length + 1;
  return Array.from({ length: count }, (_, i) => ({
    colour: ramp[count === 1 ? Math.floor(ramp.length / 2) : Math.round((i * (ramp.length - 1)) / (count - 1))],
    from: bounds[i],
    to: bounds[i + 1],
  }));
}

/** A metric's classes: red at the end that needs attention. */
export const metricClasses = (metric: Numeric, values: (number | null)[]) =>
  classify(values, metric.unit, metric.worse === 'low' ? BAD_TO_GOOD : [...BAD_TO_GOOD].reverse());

/** A class's range in words: "< 30%", "30% – 45%", "≥ 60%"; whole numbers as the values they hold ("2–4"). */
export function classLabel(unit: Unit, classes: LegendClass[], i: number): string {
  const { from, to } = classes[i] as Required<LegendClass>;
  const last = i === classes.length - 1;
  const f = (v: number) => formatValue(unit, v);
  const span = (a: number, b: number) => (f(a) === f(b) ? f(a) : `${f(a)} – ${f(b)}`);
  if (WHOLE.includes(unit)) return span(from, last ? to : to - 1);
  if (classes.length === 1) return span(from, to);
  return i === 0 ? `< ${f(to)}` : last ? `≥ ${f(from)}` : span(from, to);
}

/** The fill colour of the classes as a MapLibre expression; an area with no figure is grey. */
export function fillColour(property: string, classes: LegendClass[]): ExpressionSpecification | string {
  if (classes[0]?.state) {
    // (a match of any length: more than its type spells out)
    return ['match', ['get', property], ...classes.flatMap((c) => [c.state!, c.colour]), NO_DATA_COLOUR] as unknown as ExpressionSpecification;
  }
  if (classes.length === 0) return NO_DATA_COLOUR;
  const steps = classes.slice(1).flatMap((c) => [c.from!, c.colour]);
  const colour: ExpressionSpecification | string = steps.length ? ['step', ['get', property], classes[0].colour, ...steps] : classes[0].colour;
  // the tiles leave a missing figure out, GeoJSON has it as null: either way it is not a number
  return ['case', ['==', ['typeof', ['get', property]], 'number'], colour, NO_DATA_COLOUR];
}

/** The states of the level's standard, worst first, as legend classes. */
export const standardClasses = (level: Level): LegendClass[] => STANDARDS[level].map((state) => ({ colour: STANDARD_COLOURS[state], state }));

/** An area's standard: a community's staff against the range its people call for, a grid's households against its band. */
export function standardOf(level: Level, p: CommunityFigures | GridFigures) {
  if (level === 'communities') {
    const c = p as CommunityFigures;
    return { state: c.staffing, actual: c.staff_count, min: c.staff_required_min, max: c.staff_required_max };
  }
  const g = p as GridFigures;
  return { state: g.household_band, actual: g.households, min: g.band_min, max: g.band_max };
}

/** Worst first by the metric (the standard's misses first), areas with no figure last, then by name. */
export function rank<P extends CommunityFigures | GridFigures>(areas: Area<P>[], metric: MetricKey, level: Level): Area<P>[] {
  const numeric = numericMetric(metric);
  const score = (p: P): number | null => {
    if (!numeric) return STANDARD_ORDER.indexOf(standardOf(level, p).state);
    const value = p[numeric.key];
    return value === null ? null : numeric.worse === 'low' ? value : -value;
  };
  return [...areas].sort((a, b) => {
    const [x, y] = [score(a.properties), score(b.properties)];
    if (x !== y) return x === null ? 1 : y === null ? -1 : x - y;
    return a.properties.name.localeCompare(b.properties.name, 'zh-CN');
  });
}
