import { ValidationReasons } from 'terra-draw';
import { pageLang, problemText } from '../../errors.ts';
import type { MessageKey } from '../../i18n.tsx';

/**
 * An RFC 9457 problem as the API answers it (a refused request, or one of a dry run's refusals), with the
 * figures it carries besides its English words: `grid`, `grids`, `area_m2`, `id`, `version`, `most`…
 */
export interface Problem {
  title: string;
  status?: number;
  detail?: string;
  field?: string;
  [more: string]: unknown;
}

/** A planning call the API refused: the problem itself, to be said in the planner's language. */
export class ProblemError extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail ?? problem.title);
  }
}

/** The problem a refused response carries (a bare status when it carries none). */
export async function problemFrom(response: Response): Promise<Problem> {
  const body = (await response.json().catch(() => null)) as Problem | null;
  return body && typeof body.title === 'string' ? body : { title: `${response.status} ${response.statusText}`, status: response.status };
}

/** How a problem names the grids: by id (null: the grid a change creates), and by the codes its detail uses. */
export interface ProblemNames {
  grid: (id: number | null | undefined) => string;
  /** the community's grid codes with their names */
  codes: Map<string, string>;
}

type Translate = (key: MessageKey) => string;

/** A message with its {placeholders} filled. */
export const fill = (template: string, values: Record<string, string | number>) =>
  template.replace(/\{(\w+)\}/g, (whole, name: string) => (name in values ? String(values[name]) : whole));

const area = (m2: unknown) => {
  const n = Number(m2);
  if (!Number.isFinite(n)) return '?';
  return n < 100 ? n.toFixed(1) : Math.round(n).toLocaleString();
};

/** The names of the grids the detail mentions by code, in the order it mentions them. */
function gridsByCode(detail: string | undefined, names: ProblemNames): string[] {
  if (!detail) return [];
  return [...names.codes]
    .map(([code, name]) => ({ at: detail.indexOf(code), name }))
    .filter((c) => c.at >= 0)
    .sort((a, b) => a.at - b.at)
    .map((c) => c.name);
}

/** What PostGIS said of an invalid shape (ST_IsValidReason), in the planner's words. */
function geometryReason(detail: string | undefined, t: Translate) {
  const reason = detail ?? '';
  if (/self-intersection/i.test(reason)) return t('problem.reason.selfIntersection');
  if (/too few points/i.test(reason)) return t('problem.reason.tooFewPoints');
  if (/hole/i.test(reason)) return t('problem.reason.holes');
  return t('problem.reason.other');
}

/**
 * The problem as a sentence in the planner's language, with the figures it carries: the grids by name, the
 * areas, versions and counts. A title the web does not know is said in the API's own words.
 */
export function describeProblem(problem: Problem, t: Translate, names: ProblemNames): string {
  const { title, detail } = problem;
  const gridOf = (id: unknown) => (id === null || id === undefined ? t('problem.newGrid') : names.grid(Number(id)));
  const mentioned = gridsByCode(detail, names);
  const gridsNamed = () => (mentioned.length ? mentioned.join('、') : t('problem.theGrids'));
  // the grids a problem names by id (`grids`), else by code in its detail
  const listed = () => (Array.isArray(problem.grids) ? (problem.grids as number[]).map(gridOf).join('、') : gridsNamed());
  // a problem raised by one grid (`grid`), else the first grid its detail names by code
  const theGrid = () => ('grid' in problem ? gridOf(problem.grid) : (mentioned[0] ?? t('problem.theGrids')));
  switch (title) {
    case 'Grids overlap': {
      const ids = Array.isArray(problem.grids) ? (problem.grids as number[]) : [];
      const [a, b] = ids.length === 2 ? ids.map(gridOf) : [mentioned[0] ?? '?', mentioned[1] ?? '?'];
      return fill(t('problem.overlap'), { a, b, area: area(problem.area_m2) });
    }
    case 'Grid outside its community': {
      // the grids register answers the grids that reach out, the planning API the one grid
      const [first] = Array.isArray(problem.outside) ? (problem.outside as { id: number; area_m2: number }[]) : [];
      return fill(t('problem.outside'), {
        grid: first && !('grid' in problem) ? gridOf(first.id) : theGrid(),
        area: area(problem.area_m2 ?? first?.area_m2),
      });
    }
    case 'Sliver':
      return fill(t(problem.whole ? 'problem.tooSmall' : 'problem.sliver'), { grid: theGrid(), area: area(problem.area_m2) });
    case 'Grid falls apart':
      return fill(t('problem.fallsApart'), { grid: theGrid(), parts: String(problem.parts ?? 2), area: area(problem.area_m2) });
    case 'Grid with a hole':
      return fill(t('problem.hole'), { grid: theGrid() });
    case 'Grids not adjacent':
      return fill(t('problem.notAdjacent'), { grids: listed() });
    case 'Grids of different communities':
      return fill(t('problem.differentCommunities'), { grids: listed() });
    case 'Grid of another community':
      return fill(t('problem.otherCommunity'), { grids: gridOf(problem.grid) });
    case 'Line does not cut the grid':
      return fill(t('problem.lineMisses'), { grid: theGrid() });
    case 'Unknown version':
      return fill(t('problem.unknownVersion'), { grid: theGrid(), version: String(problem.version ?? '?') });
    case 'Invalid geometry':
      // a shape the change would keep (a neighbour's too) names its grid
      return 'grid' in problem
        ? fill(t('problem.invalidGridGeometry'), { grid: theGrid(), reason: geometryReason(detail, t) })
        : fill(t('problem.invalidGeometry'), { reason: geometryReason(detail, t) });
    case 'Grid has accounts':
      return fill(t('problem.accounts'), {
        user: String(problem.username ?? '?'),
        grid: gridOf(problem.grid),
      });
    case 'Precondition Failed':
      return fill(t('problem.stale'), {
        grid: gridOf(problem.id),
        version: String(problem.version ?? '?'),
      });
    case 'Community in several parts':
      return fill(t('problem.severalParts'), { parts: String(problem.parts ?? '?') });
    case 'Took too long':
      return t('problem.tooLong');
    case 'Outside your scope':
      return t('problem.scope');
    case 'Too many grids':
      return typeof problem.most === 'number' ? fill(t('problem.tooManyGrids'), { most: problem.most }) : t('problem.tooManyGridsClose');
    case 'Community cannot be cut':
      return t('problem.cannotCut');
    case 'No grid codes left':
      return t('problem.noCodes');
    case 'Invalid body':
    case 'Invalid parameter':
      if (problem.field === 'count') return t('problem.count');
      break;
  }
  return problemText(problem, pageLang()) ?? title;
}

/** What went wrong, in the planner's language: a problem the API answered, or the error's own words. */
export function describeFailure(failure: unknown, t: Translate, names: ProblemNames): string {
  if (failure instanceof ProblemError) {
    // a save refused for its shape carries every refusal the dry run would have listed
    const all = Array.isArray(failure.problem.refusals) ? (failure.problem.refusals as Problem[]) : [failure.problem];
    return all.map((p) => describeProblem(p, t, names)).join(' · ');
  }
  return failure instanceof Error ? failure.message : String(failure);
}

/** Why terra-draw refused a shape (its ValidationReasons), in the planner's language. */
export function shapeReason(reason: string, t: Translate): string {
  switch (reason) {
    case ValidationReasons.ValidationReasonFeatureSelfIntersects:
      return t('planning.selfIntersects');
    case ValidationReasons.ValidationReasonFeatureHasHoles:
      return t('planning.shape.holes');
    case ValidationReasons.ValidationReasonFeatureLessThanFourCoordinates:
      return t('planning.shape.tooFewPoints');
    case ValidationReasons.ValidationReasonFeatureInvalidCoordinates:
    case ValidationReasons.ValidationReasonFeatureHasInvalidCoordinates:
    case ValidationReasons.ValidationReasonFeatureCoordinatesNotClosed:
    case ValidationReasons.ValidationReasonFeatureInvalidCoordinatePrecision:
      return t('planning.shape.coordinates');
    default:
      return t('planning.shape.other');
  }
}
