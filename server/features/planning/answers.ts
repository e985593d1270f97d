import type { Geometry, Polygon } from 'geojson';
import { z } from 'zod';
import { ERROR_CODES } from '../../domain/errors.ts';
import { answerCollection, answerFeature, answerGeometryOf } from '../../domain/geojson.ts';

/** A grid's boundary, and the shapes a change leaves (overlaps, uncovered parts: polygons or several). */
const polygon = answerGeometryOf<Polygon>();
const shape = answerGeometryOf<Geometry>();

/** A grid's people and problems, before or after a change, with its households against the community's band. */
const counts = z.object({
  households: z.number(),
  residents: z.number(),
  members: z.number(),
  volunteers: z.number(),
  open_issues: z.number(),
  band: z.enum(['below', 'within', 'above']),
});

/** Where a row was and is: grid ids, null where it is in no grid. */
const move = { from: z.number().nullable(), to: z.number().nullable() };

/** Why saving would be refused, in the words of its problem, with the figures it carries (`grid`, `grids`, `area_m2` …). */
const refusal = z.looseObject({ code: z.enum(ERROR_CODES), title: z.string(), detail: z.string(), field: z.string() });

export const CHANGE_KINDS = ['redraw', 'split', 'merge', 'create', 'revert', 'plan'] as const;

/** What a planning change does (a dry run) or did (a save): the answer of every planning operation. */
export const impactReport = z
  .object({
    dryRun: z.boolean(),
    saved: z.boolean(),
    change: z.object({ id: z.number(), kind: z.enum(CHANGE_KINDS), note: z.string().nullable(), at: z.string() }).nullable(),
    community: z.object({ id: z.number(), code: z.string(), name: z.string(), band: z.object({ min: z.number(), max: z.number() }) }),
    grids: z.array(
      z.object({
        /** in a dry run a created grid's id is provisional: it means something only inside its report */
        id: z.number(),
        code: z.string(),
        name: z.string(),
        status: z.enum(['created', 'removed', 'changed', 'unchanged']),
        /** the row version after (the next If-Match); null when removed */
        version: z.number().nullable(),
        geometry: polygon.nullable(),
        area_m2: z.object({ before: z.number().nullable(), after: z.number().nullable() }),
        before: counts.nullable(),
        after: counts.nullable(),
      }),
    ),
    /** open issues only */
    moved: z.object({
      buildings: z.array(z.object({ id: z.number(), name: z.string().nullable(), ...move })),
      /** id null for those who see members only counted (planners) */
      members: z.array(z.object({ id: z.number().nullable(), ...move })),
      issues: z.array(z.object({ id: z.number(), title: z.string().nullable(), ...move })),
    }),
    /** grid workers whose grid a merge or a removal takes away: the grid they work in from now on */
    accounts: z.array(z.object({ id: z.number(), username: z.string(), from: z.number(), to: z.number().nullable() })),
    overlaps: z.array(z.object({ grids: z.array(z.number()), codes: z.array(z.string()), area_m2: z.number(), geometry: shape })),
    uncovered: z.array(z.object({ area_m2: z.number(), new: z.boolean(), geometry: shape })),
    refusals: z.array(refusal),
    saveable: z.boolean(),
  })
  .meta({ id: 'ImpactReport' });

/** A grid's versions, newest first; who, why and the impact only to those who may plan the grid. */
export const gridVersions = z.object({
  grid: z.number(),
  versions: z.array(
    z.object({
      /** null: the version that removed the grid */
      version: z.number().nullable(),
      at: z.string(),
      kind: z.string(),
      change: z.number().nullable(),
      code: z.string(),
      name: z.string(),
      geometry_before: polygon.nullable(),
      geometry_after: polygon.nullable(),
      note: z.string().nullable(),
      user: z.object({ id: z.number().nullable(), username: z.string() }).nullable(),
      impact: impactReport.nullable(),
    }),
  ),
});

/** The community's grids as they stood at a time (`at`; null: now). */
export const gridsThen = answerCollection(
  answerFeature(z.object({ id: z.number(), code: z.string(), name: z.string(), version: z.number(), since: z.string() }), polygon),
  { at: z.string().nullable() },
);

/** A suggested division: each part matched to the grid it keeps (null: a new grid), with its households and buildings. */
export const suggestion = z.object({
  draft: z.object({
    type: z.literal('FeatureCollection'),
    features: z.array(
      z.object({
        type: z.literal('Feature'),
        geometry: polygon,
        properties: z.object({
          grid_id: z.number().nullable(),
          version: z.number().nullable(),
          code: z.string().nullable(),
          name: z.string().nullable(),
          households: z.number(),
          buildings: z.number(),
        }),
      }),
    ),
  }),
  /** the grids the draft leaves out: saving it removes them (with the versions a plan's save needs) */
  removed: z.array(z.object({ id: z.number(), code: z.string(), name: z.string(), version: z.number() })),
  households: z.object({ mean: z.number(), min: z.number(), max: z.number(), max_deviation_pct: z.number() }),
  elapsed_ms: z.number(),
  impact: impactReport,
});
