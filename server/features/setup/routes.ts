import { sql } from 'kysely';
import { z } from 'zod';
import type { Database } from '../../db/database.ts';
import { route } from '../../http/route.ts';

/** A layer of the city in the order it is loaded, and what it still lacks: each gap a count of rows. */
const setupStep = z.object({
  layer: z.enum(['districts', 'streets', 'communities', 'grids', 'buildings', 'members', 'units', 'users']),
  count: z.number(),
  gaps: z.record(z.string(), z.number()),
});
type SetupStep = z.output<typeof setupStep>;

/**
 * GET /api/v1/setup (admins): what a new city has loaded, step by step, and what is still missing, in one
 * statement: the setup view's checklist ("3 communities have no grids", "412 members matched no building").
 */
export const setupRoutes = (database: Database) => [
  route({
    method: 'GET',
    path: '/api/v1/setup',
    tags: ['accounts'],
    summary: "A new city's checklist: each layer in the order it is loaded, its count, and what it still lacks",
    // a new city's checklist: counts over the whole map
    allow: { roles: ['admin'] },
    answer: {
      schema: z.object({ empty: z.boolean(), steps: z.array(setupStep) }),
      description: '`{empty, steps: [{layer, count, gaps: {without_grids: 3, …}}]}`',
    },
    handle: async () => {
      const {
        rows: [c],
      } = await sql<Record<string, number>>`
        select (select count(*) from districts)::int as districts,
               (select count(*) from districts where geom is null)::int as districts_without_boundary,
               (select count(*) from streets)::int as streets,
               (select count(*) from streets where geom is null)::int as streets_without_boundary,
               (select count(*) from communities)::int as communities,
               (select count(*) from communities c where not exists (select from grids g where g.community_id = c.id))::int as communities_without_grids,
               (select count(*) from grids)::int as grids,
               (select count(*) from grids g where not exists (select from buildings b where b.grid_id = g.id))::int as grids_without_buildings,
               (select count(*) from buildings)::int as buildings,
               (select count(*) from buildings where grid_id is null)::int as buildings_outside_grids,
               (select count(*) from members)::int as members,
               (select count(*) from members where building_id is null)::int as members_without_building,
               (select count(*) from units)::int as units,
               (select count(*) from users where role <> 'admin')::int as users`.execute(database.db);
      const step = (layer: SetupStep['layer'], ...gaps: string[]): SetupStep => ({
        layer,
        count: c[layer],
        gaps: Object.fromEntries(gaps.map((gap) => [gap, c[`${layer}_${gap}`]])),
      });
      const steps = [
        step('districts', 'without_boundary'),
        step('streets', 'without_boundary'),
        step('communities', 'without_grids'),
        step('grids', 'without_buildings'),
        step('buildings', 'outside_grids'),
        step('members', 'without_building'),
        step('units'),
        step('users'),
      ];
      return { empty: c.communities === 0, steps };
    },
  }),
];
