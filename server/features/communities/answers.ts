import { z } from 'zod';

/**
 * Counts of an area or a building by name (households, residents, members, volunteers, central_households,
 * open_issues …): members' counts are left out where the viewer may not count them.
 */
const counts = z.record(z.string(), z.number());
const named = { name: z.string().nullable() };
const area = z.object({ id: z.number(), code: z.string(), name: z.string() });

const building = z.object({
  id: z.number(),
  name: z.string(),
  kind: z.string(),
  floors: z.number().nullable(),
  party_group: z.object({ exists: z.boolean(), leader: z.string().nullable() }),
  /** only where the viewer may see who lives there */
  central_households: z.array(z.object({ member_id: z.number(), name: z.string() })),
  counts,
});

/** GET /api/v1/communities/:id/tree: the community's Party organisation along the map, counted at every level. */
export const organisationTree = z
  .object({
    id: z.number(),
    code: z.string(),
    name: z.string(),
    street: area,
    district: area,
    party_committee: z.object({ ...named, secretary: z.string().nullable() }),
    counts,
    grids: z.array(
      z.object({
        id: z.number(),
        code: z.string(),
        name: z.string(),
        party_branch: z.object({ ...named, secretary: z.string().nullable() }),
        grid_worker: z.object({ ...named, phone: z.string().nullable() }),
        counts,
        buildings: z.array(building),
      }),
    ),
    unassigned_buildings: z.array(building),
  })
  .meta({ id: 'CommunityTree' });
