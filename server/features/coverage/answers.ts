import { z } from 'zod';
import { answerCollection, answerFeature, answerGeometry } from '../../domain/geojson.ts';

/** A figure that may be withheld or have nothing to divide by: null. */
const figure = z.number().nullable();

/** The figures every area has, as GET /api/v1/coverage/… and the grids' vector tiles give them. */
const figures = {
  code: z.string(),
  name: z.string(),
  households: z.number(),
  residents: z.number(),
  buildings: z.number(),
  residential_buildings: z.number(),
  party_group_buildings: z.number(),
  party_group_share: figure,
  members: figure,
  members_in_service: figure,
  members_retired: figure,
  members_floating: figure,
  members_resident: figure,
  central_households: figure,
  volunteers: figure,
  volunteers_available: figure,
  members_per_100_households: figure,
  volunteers_per_100_households: figure,
  households_reached: z.number(),
  volunteer_reach: figure,
  open_issues: z.number(),
  overdue_issues: z.number(),
  closed_issues: z.number(),
  closure_rate: figure,
  median_days_to_close: figure,
};
const band = { band_min: z.number(), band_max: z.number() };

export const staffing = z.enum(['short', 'within', 'over', 'unknown']);
export const householdBand = z.enum(['below', 'within', 'above']);

export const communityFigures = z
  .object({
    ...figures,
    ...band,
    street_code: z.string(),
    street_name: z.string(),
    staff_count: z.number().nullable(),
    staff_required_min: z.number(),
    staff_required_max: z.number(),
    people_served: z.number(),
    staffing,
    grids: z.number(),
  })
  .meta({ id: 'CommunityCoverage' });

export const gridFigures = z
  .object({
    ...figures,
    ...band,
    community_id: z.number(),
    community_name: z.string(),
    household_band: householdBand,
  })
  .meta({ id: 'GridCoverage' });

/**
 * A street's or district's: its communities' counts summed, its rates from the sums; every figure null when the
 * viewer does not read all its communities (`figures_withheld`).
 */
export const areaFigures = z
  .object({
    ...(Object.fromEntries(
      Object.entries(figures).map(([key, type]) => [key, key === 'code' || key === 'name' ? type : type.nullable()]),
    ) as { [K in keyof typeof figures]: K extends 'code' | 'name' ? (typeof figures)[K] : z.ZodNullable<(typeof figures)[K]> }),
    communities: z.number(),
    figures_withheld: z.boolean(),
    /** a street's district */
    district_name: z.string().optional(),
    /** a district's streets */
    streets: z.number().optional(),
  })
  .meta({ id: 'AreaCoverage' });

const reached = { reach_m: z.number(), numberReturned: z.number() };
/**
 * An area with its figures, its box (west, south, east, north; null for a street not drawn yet) and its
 * geometry, or none when asked without (`geometry=none`: a map that has the areas as tiles).
 */
const areaFeature = <P extends z.ZodType>(properties: P) =>
  answerFeature(properties, answerGeometry.nullable()).extend({ bbox: z.array(z.number()).length(4).nullable() });
export const communityCoverage = answerCollection(areaFeature(communityFigures), reached);
export const gridCoverage = answerCollection(areaFeature(gridFigures), reached);
export const areaCoverage = answerCollection(areaFeature(areaFigures), reached);

/** A building with households and no available volunteer within reach. */
export const gap = z
  .object({
    name: z.string(),
    kind: z.string(),
    households: z.number(),
    residents: z.number(),
    grid_id: z.number().nullable(),
    grid_name: z.string().nullable(),
    community_id: z.number().nullable(),
    /** to the nearest available volunteer, to the decimetre, where the caller may see where it is */
    nearest_volunteer_m: z.number().nullable(),
    /** else the band it is beyond ("over 200 m"); the cap when none is nearer */
    nearest_volunteer_over_m: z.number().nullable(),
  })
  .meta({ id: 'CoverageGap' });
export const gaps = answerCollection(answerFeature(gap), { ...reached, households: z.number() });
