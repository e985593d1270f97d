import type { BBox, Feature, FeatureCollection, Geometry } from 'geojson';
import type { ExpressionSpecification } from 'maplibre-gl';
import type { ApiAnswer } from '../../../../server/http/api.ts';

/** The areas the map is coloured by, largest first. */
export const LEVELS = ['districts', 'streets', 'communities', 'grids'] as const;
export type Level = (typeof LEVELS)[number];
/** The level an address names (?level=streets); the communities' when it names none or no level. */
export const levelIn = (text: string | null): Level => LEVELS.find((l) => l === text) ?? 'communities';
/** The levels whose areas have a standard to meet (communities their staffing, grids their household band). */
type StandardLevel = 'communities' | 'grids';
export const hasStandard = (level: Level): level is StandardLevel => level === 'communities' || level === 'grids';

/** A community's staffing against the standard for the people it serves; a grid's households against its band. */
export type Staffing = 'short' | 'within' | 'over' | 'unknown';
export type HouseholdBand = 'below' | 'within' | 'above';

/** The figures of an area as GET /api/v1/coverage/… gives them (null: withheld, or nothing to divide): the server's schemas. */
export type CommunityFigures = ApiAnswer<'GET /api/v1/coverage/communities'>['features'][number]['properties'];
export type GridFigures = ApiAnswer<'GET /api/v1/coverage/grids'>['features'][number]['properties'];
/** A street's or district's: every figure null when the viewer does not read all its communities (`figures_withheld`). */
export type AreaFigures = ApiAnswer<'GET /api/v1/coverage/streets'>['features'][number]['properties'];
/** An area of a coverage answer asked without geometry (`geometry=none`): its figures and its box (none: not drawn yet). */
export type Area<P> = Feature<Geometry | null, P> & { id: number; bbox: BBox | null };
export interface Areas<P> extends FeatureCollection<Geometry | null, P> {
  features: Area<P>[];
}

/** `people`: the members or volunteers counted in a hexagon. */
export type Unit = 'percent' | 'per100' | 'households' | 'issues' | 'days' | 'people';
export type NumericKey =
  | 'volunteer_reach'
  | 'members_per_100_households'
  | 'volunteers_per_100_households'
  | 'party_group_share'
  | 'households'
  | 'open_issues'
  | 'overdue_issues'
  | 'closure_rate'
  | 'median_days_to_close';
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
const METRIC_KEYS: MetricKey[] = [...NUMERIC_METRICS.map((m) => m.key), 'staffing'];
/** The metrics a level's areas are coloured by: a standard only where its areas have one. */
export const metricsOf = (level: Level) => METRIC_KEYS.filter((key) => key !== 'staffing' || hasStandard(level));
export const numericMetric = (key: MetricKey) => NUMERIC_METRICS.find((m) => m.key === key);

/**
 * How each unit is written: multiplied by `times` (rates in per cent), to `decimals` places. The map, the
 * legend and the table all take a figure as written (rates to 0.1 %, per 100 and days to 0.1, counts
 * whole), so no area is drawn in a class its figure in the table does not read as.
 */
const WRITTEN: Record<Unit, { times: number; decimals: number; suffix: string }> = {
  percent: { times: 100, decimals: 1, suffix: '%' },
  per100: { times: 1, decimals: 1, suffix: '' },
  days: { times: 1, decimals: 1, suffix: '' },
  households: { times: 1, decimals: 0, suffix: '' },
  issues: { times: 1, decimals: 0, suffix: '' },
  people: { times: 1, decimals: 0, suffix: '' },
};
/** How many steps of the written precision make one of the value's own units (1000 for a rate: 0.1 %). */
const scaleOf = (unit: Unit) => WRITTEN[unit].times * 10 ** WRITTEN[unit].decimals;
/**
 * A figure in steps of its written precision: a whole number, so comparisons are exact. Rounded half up,
 * as MapLibre's `round` does for the figures here, none of which is negative.
 */
const stepsOf = (unit: Unit, value: number) => Math.round(value * scaleOf(unit));

/** A figure as the table writes it: its written precision in full ("23.0%"). */
export function formatValue(unit: Unit, value: number | null): string {
  if (value === null) return '—';
  const { decimals, suffix } = WRITTEN[unit];
  return `${(stepsOf(unit, value) / 10 ** decimals).toFixed(decimals)}${suffix}`;
}

/** A figure of the legend, as many decimals as it needs ("22.6%", "23%"), from its steps. */
function legendNumber(unit: Unit, steps: number): string {
  const { decimals, suffix } = WRITTEN[unit];
  return `${steps / 10 ** decimals}${suffix}`;
}

/** Worst to best: red, orange, yellow, light green, green (ColorBrewer RdYlGn). */
const BAD_TO_GOOD = ['#d7191c', '#fdae61', '#fee08b', '#a6d96a', '#1a9641'];
export const NO_DATA_COLOUR = '#bdbdbd';

/** The colour of each standard's state: short or overloaded red, the milder miss orange, met green. */
const STANDARD_COLOURS: Record<Staffing | HouseholdBand, string> = {
  short: '#d7191c',
  above: '#d7191c',
  over: '#fdae61',
  below: '#fdae61',
  unknown: NO_DATA_COLOUR,
  within: '#1a9641',
};
/** Worst first, for the ranking. */
const STANDARD_ORDER: (Staffing | HouseholdBand)[] = ['short', 'above', 'unknown', 'over', 'below', 'within'];
const STANDARDS: Record<StandardLevel, (Staffing | HouseholdBand)[]> = {
  communities: ['short', 'over', 'within', 'unknown'],
  grids: ['above', 'below', 'within'],
};
/** The property that says whether an area meets its standard. */
export const STANDARD_PROPERTY: Record<StandardLevel, 'staffing' | 'household_band'> = { communities: 'staffing', grids: 'household_band' };

/**
 * One class of a legend: its colour and the values it holds, from `from` up to `to` (the last class up to
 * and with `to`, the highest value); or, for a standard, the state it stands for.
 */
export interface LegendClass {
  colour: string;
  from?: number;
  to?: number;
  state?: Staffing | HouseholdBand;
}

/**
 * Up to five classes of about as many areas each (quantiles) of the figures as written, coloured along
 * `ramp` from the lowest values up. A class break sits between two neighbouring figures that read
 * differently (a run of equal figures stays in one class), at the roundest number above the lower one and
 * up to the higher one ("< 50%", not "< 47.8%"), so no area changes class for it. A class holds its figures
 * from `from` up to, not with, `to` (the last one up to and with `to`, the highest figure).
 */
export function classify(values: (number | null)[], unit: Unit, ramp: string[]): LegendClass[] {
  const sorted = values
    .filter((v): v is number => v !== null && Number.isFinite(v))
    .map((v) => stepsOf(unit, v))
    .sort((a, b) => a - b);
  if (sorted.length === 0) return [];
  // the roundest number of steps above `below` and up to `upTo`: a power of ten of them, or a multiple of one
  const roundest = (below: number, upTo: number) => {
    let power = 1;
    while (power * 10 <= upTo) power *= 10;
    for (; power >= 1; power /= 10) {
      const at = Math.floor(upTo / power) * power;
      if (at > below) return at;
    }
    return upTo;
  };
  const breaks: number[] = [];
  for (let i = 1; i < 5; i++) {
    let at = Math.floor((i * sorted.length) / 5);
    while (at > 0 && at < sorted.length && sorted[at] === sorted[at - 1]) at++;
    if (at === 0 || at === sorted.length) continue;
    const limit = roundest(sorted[at - 1], sorted[at]);
    if (limit > (breaks.at(-1) ?? -Infinity)) breaks.push(limit);
  }
  const bounds = [sorted[0], ...breaks, sorted.at(-1)!].map((steps) => steps / scaleOf(unit));
  const count = breaks.length + 1;
  // one class (every area reads the same): a rate coloured by where it sits (100 % at the good end, 0 % at
  // the bad one), anything else in the middle, neither good nor bad
  const single =
    unit === 'percent'
      ? Math.round(Math.min(1, Math.max(0, (bounds[0] + bounds[1]) / 2)) * (ramp.length - 1))
      : Math.floor(ramp.length / 2);
  return Array.from({ length: count }, (_, i) => ({
    colour: ramp[count === 1 ? single : Math.round((i * (ramp.length - 1)) / (count - 1))],
    from: bounds[i],
    to: bounds[i + 1],
  }));
}

/** A metric's classes: red at the end that needs attention. */
export const metricClasses = (metric: Numeric, values: (number | null)[]) =>
  classify(values, metric.unit, metric.worse === 'low' ? BAD_TO_GOOD : [...BAD_TO_GOOD].reverse());

/**
 * A class's range in words, in the figures as the table writes them: "< 30%", "30% – 44.9%", "≥ 45%"; one
 * class from its lowest figure to its highest ("12 – 40", or "100%" when they are one).
 */
export function classLabel(unit: Unit, classes: LegendClass[], i: number): string {
  const [from, to] = [classes[i].from!, classes[i].to!].map((v) => stepsOf(unit, v));
  const f = (steps: number) => legendNumber(unit, steps);
  if (classes.length === 1) return from === to ? f(from) : `${f(from)} – ${f(to)}`;
  if (i === 0) return `< ${f(to)}`;
  if (i === classes.length - 1) return `≥ ${f(from)}`;
  // the highest figure the class holds is one step under the next class's break
  return from === to - 1 ? f(from) : `${f(from)} – ${f(to - 1)}`;
}

/** A figure as written, as a MapLibre expression: what the classes' breaks are compared with. */
const writtenValue = (value: ExpressionSpecification, unit: Unit): ExpressionSpecification => [
  '/',
  ['round', ['*', value, scaleOf(unit)]],
  scaleOf(unit),
];

/**
 * The fill colour of the classes as a MapLibre expression (`unit`: that of the classes' figures, null for a
 * standard's states); an area with no figure is grey.
 */
export function fillColour(
  property: string,
  classes: LegendClass[],
  unit: Unit | null,
  read: 'get' | 'feature-state' = 'get',
): ExpressionSpecification | string {
  // a tile's property, or the figure set on a tile's feature (the areas: layers.ts)
  const value = [read, property] as ExpressionSpecification;
  if (unit === null) {
    // (a match of any length: more than its type spells out)
    return ['match', value, ...classes.flatMap((c) => [c.state!, c.colour]), NO_DATA_COLOUR] as unknown as ExpressionSpecification;
  }
  if (classes.length === 0) return NO_DATA_COLOUR;
  const steps = classes.slice(1).flatMap((c) => [c.from!, c.colour]);
  const colour: ExpressionSpecification | string = steps.length
    ? ['step', writtenValue(value, unit), classes[0].colour, ...steps]
    : classes[0].colour;
  // the tiles leave a missing figure out, the answer has it as null: either way it is not a number
  return ['case', ['==', ['typeof', value], 'number'], colour, NO_DATA_COLOUR];
}

/** The states of the level's standard, worst first, as legend classes. */
export const standardClasses = (level: StandardLevel): LegendClass[] =>
  STANDARDS[level].map((state) => ({ colour: STANDARD_COLOURS[state], state }));

/** An area's standard: a community's staff against the range its people call for, a grid's households against its band. */
export function standardOf(level: StandardLevel, p: CommunityFigures | GridFigures) {
  if (level === 'communities') {
    const c = p as CommunityFigures;
    return { state: c.staffing, actual: c.staff_count, min: c.staff_required_min, max: c.staff_required_max };
  }
  const g = p as GridFigures;
  return { state: g.household_band, actual: g.households, min: g.band_min, max: g.band_max };
}

/** Worst first by the metric (the standard's misses first), areas with no figure last, then by name. */
export function rank<P extends CommunityFigures | GridFigures | AreaFigures>(areas: Area<P>[], metric: MetricKey, level: Level): Area<P>[] {
  const numeric = numericMetric(metric);
  const score = (p: P): number | null => {
    if (!numeric) return hasStandard(level) ? STANDARD_ORDER.indexOf(standardOf(level, p as CommunityFigures | GridFigures).state) : null;
    const value = p[numeric.key];
    return value === null ? null : numeric.worse === 'low' ? value : -value;
  };
  return [...areas].sort((a, b) => {
    const [x, y] = [score(a.properties), score(b.properties)];
    if (x !== y) return x === null ? 1 : y === null ? -1 : x - y;
    return a.properties.name.localeCompare(b.properties.name, 'zh-CN');
  });
}
