import { Router } from 'express';
import { sql } from 'kysely';
import type { Database } from '../../db/database.ts';

/** A layer of the city in the order it is loaded, and what it still lacks: each gap a count of rows. */
export interface SetupStep {
  layer: 'districts' | 'streets' | 'communities' | 'grids' | 'buildings' | 'members' | 'units' | 'users';
  count: number;
  gaps: Record<string, number>;
}

/**
 * GET /api/v1/setup (admins): what a new city has loaded, step by step, and what is still missing, in one
 * statement: the setup view's checklist ("3 communities have no grids", "412 members matched no building").
 */
export function setupRoutes(database: Database) {
  return Router().get('/api/v1/setup', async (_req, res) => {
    const { rows: [c] } = await sql<Record<string, number>>`
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
    const step = (layer: SetupStep['layer'], ...gaps: string[]): SetupStep =>
      ({ layer, count: c[layer], gaps: Object.fromEntries(gaps.map((gap) => [gap, c[`${layer}_${gap}`]])) });
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
    res.json({ empty: c.communities === 0, steps });
  });
}
