import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/database.ts';
import type { DB } from '../../db/schema.ts';
import { writeCondition } from '../../access/policy.ts';
import { DomainError } from '../../domain/errors.ts';
import { grids } from '../grids/resource.ts';
import type { Viewer } from '../../access/viewer.ts';
import { runChange, type Edit, type Planner } from './change.ts';
import { suggestPartition } from './suggest.ts';

/** 404 for an unknown community, 403 when the viewer may not plan its grids: before any costly work. */
export async function requirePlanner(db: Kysely<DB>, viewer: Viewer, communityId: number) {
  const writable = writeCondition('grids', grids.place, viewer, 'update', 'g') ?? sql`false`;
  const {
    rows: [found],
  } = await sql<{ writable: boolean }>`
    select coalesce(${writable}, false) as writable from (select id as community_id, null::int as id from communities where id = ${communityId}) g`.execute(
    db,
  );
  if (!found) throw new DomainError('community.not_found', `No community ${communityId}`, { field: 'id' }, { id: communityId });
  if (!found.writable)
    throw new DomainError(
      'access.outside_scope',
      `community ${communityId} is outside where a ${viewer.role} in your scope may plan grids`,
      { field: 'id' },
    );
}

/**
 * Suggested grids as a draft: the partition, each part matched to the existing grid it overlaps most (one
 * to one, largest overlaps first, so grids keep their codes and staff where they stay), and the impact of
 * applying it, tried and rolled back. Saving it is the planner's: POST /communities/:id/plan.
 */
export async function suggestDraft(database: Database, planner: Planner, communityId: number, count: number) {
  await requirePlanner(database.db, planner.viewer, communityId);
  const started = performance.now();
  const parts = await suggestPartition(database.db, communityId, count);
  const elapsedMs = Math.round(performance.now() - started);
  const { rows: overlaps } = await sql<{ part: number; grid: number; hex: string; area: number }>`
    select (p.n - 1)::int as part, g.id as grid, encode(ST_AsBinary(s), 'hex') as hex, coalesce(ST_Area(ST_Intersection(s, g.geom)), 0) as area
    from json_array_elements_text(${JSON.stringify(parts.map((p) => p.geometry))}::json) with ordinality as p(geometry, n)
    cross join lateral normalized_geometry(p.geometry) as s
    left join grids g on g.community_id = ${communityId} and g.geom && s
    order by area desc, part, grid`.execute(database.db);
  const { rows: existing } = await sql<{ id: number; code: string; name: string; version: number }>`
    select id, code, name, version from grids where community_id = ${communityId} order by code`.execute(database.db);
  const matched = new Map<number, number>();
  const taken = new Set<number>();
  for (const o of overlaps) {
    if (o.grid === null || o.area <= 0 || matched.has(o.part) || taken.has(o.grid)) continue;
    matched.set(o.part, o.grid);
    taken.add(o.grid);
  }
  const shapes = new Map(overlaps.map((o) => [o.part, o.hex]));
  const edits: Edit[] = [
    ...parts.map((_, k) => ({ id: matched.get(k), geom: shapes.get(k)! })),
    ...existing.filter((g) => !taken.has(g.id)).map((g) => ({ id: g.id, geom: null })),
  ];
  const impact = await runChange(database, planner, {
    kind: 'plan',
    communityId,
    dryRun: true,
    versions: [],
    required: [],
    build: async () => ({ edits }),
  });
  const byId = new Map(existing.map((g) => [g.id, g]));
  const mean = parts.reduce((sum, p) => sum + p.households, 0) / parts.length;
  const households = parts.map((p) => p.households);
  return {
    draft: {
      type: 'FeatureCollection' as const,
      features: parts.map((p, k) => {
        const grid = byId.get(matched.get(k)!);
        return {
          type: 'Feature' as const,
          geometry: JSON.parse(p.geometry),
          properties: {
            grid_id: grid?.id ?? null,
            version: grid?.version ?? null,
            code: grid?.code ?? null,
            name: grid?.name ?? null,
            households: p.households,
            buildings: p.buildings,
          },
        };
      }),
    },
    // the grids the draft leaves out: saving it removes them (with the versions a plan's save needs)
    removed: existing.filter((g) => !taken.has(g.id)),
    households: {
      mean: Math.round(mean * 10) / 10,
      min: Math.min(...households),
      max: Math.max(...households),
      max_deviation_pct: mean === 0 ? 0 : Math.round((Math.max(...households.map((h) => Math.abs(h - mean))) / mean) * 1000) / 10,
    },
    elapsed_ms: elapsedMs,
    impact,
  };
}
