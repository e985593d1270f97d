import { sql, type Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';
import { readable, seesAggregateOnly, writeCondition } from '../../access/policy.ts';
import type { Viewer } from '../../access/viewer.ts';
import { DomainError } from '../../domain/errors.ts';
import type { z } from 'zod';
import type { gridVersions } from './answers.ts';
import type { ImpactReport } from './change.ts';

/** Where a grid version sits, for the viewer's scope (the grid it was, in its community). */
const versionPlace = { community: 'community_id', grid: 'grid_id' };

const versionsRead = (viewer: Viewer) => readable('grids', versionPlace, viewer, 'v');

interface Version {
  visible: boolean;
  plans: boolean;
  impact: ImpactReport | null;
  entry: Omit<z.output<typeof gridVersions>['versions'][number], 'impact'>;
}

/**
 * Every version of a grid the viewer may read, newest first: when, what, the boundary before and after. Who
 * made it, why, and its impact (which names issues and members) only to those who may plan the grid; a
 * planner reads moved members as counts, as everywhere.
 */
export async function gridHistory(db: Kysely<DB>, viewer: Viewer, gridId: number) {
  const { rows } = await sql<Version>`
    select ${versionsRead(viewer)} as visible, coalesce(${writeCondition('grids', versionPlace, viewer, 'update', 'v') ?? sql`false`}, false) as plans,
      c.impact, json_build_object(
      'version', v.version, 'at', v.at, 'kind', v.kind, 'change', v.change_id, 'code', v.code, 'name', v.name,
      'geometry_before', ST_AsGeoJSON(v.geom_before, 7)::json, 'geometry_after', ST_AsGeoJSON(v.geom_after, 7)::json,
      'note', c.note, 'user', case when v.username is not null then json_build_object('id', v.user_id, 'username', v.username) end) as entry
    from grid_versions v left join grid_changes c on c.id = v.change_id
    where v.grid_id = ${gridId} order by v.id desc`.execute(db);
  if (rows.length === 0) throw new DomainError('grid.not_found', `No grid ${gridId}`, { field: 'id' }, { id: gridId });
  if (!rows[0].visible)
    throw new DomainError('access.outside_scope', `grid ${gridId} lies outside what a ${viewer.role} in your scope may see`, {
      field: 'id',
    });
  const aggregate = seesAggregateOnly('members', viewer);
  return {
    grid: gridId,
    versions: rows.map(({ plans, impact, entry }) => {
      if (!plans) return { ...entry, note: null, user: null, impact: null };
      if (!impact || !aggregate) return { ...entry, impact };
      return {
        ...entry,
        impact: { ...impact, moved: { ...impact.moved, members: impact.moved.members.map((m) => ({ ...m, id: null })) } },
      };
    }),
  };
}

/** A grid that was removed: its community, code and name, and the organisation it had (from the audit log). */
export async function removedGrid(db: Kysely<DB>, gridId: number) {
  const {
    rows: [found],
  } = await sql<{ id: number; community_id: number; code: string; name: string; properties: Record<string, unknown> | null }>`
    select v.grid_id as id, v.community_id, v.code, v.name, (
      select json_build_object('party_branch_name', a.before->'party_branch_name', 'party_branch_secretary', a.before->'party_branch_secretary',
                               'grid_worker_name', a.before->'grid_worker_name', 'grid_worker_phone', a.before->'grid_worker_phone')
      from audit_log a where a.resource = 'grids' and a.row_id = v.grid_id and a.action = 'delete' order by a.id desc limit 1) as properties
    from grid_versions v
    where v.grid_id = ${gridId} and not exists (select from grids where id = ${gridId})
    order by v.id desc limit 1`.execute(db);
  return found && { ...found, properties: found.properties ?? {} };
}

/**
 * The community's grids as they stood at `at` (now when absent): each grid's last version up to then, unless
 * that version removed it or moved it to another community. A date alone means the end of that day (UTC).
 */
export async function gridsAsOf(db: Kysely<DB>, viewer: Viewer, communityId: number, at: { time: Date; wholeDay: boolean } | undefined) {
  const {
    rows: [found],
  } = await sql<{ known: boolean; visible: boolean; body: string }>`
    with last as (
      ${
        at
          ? sql`select distinct on (v.grid_id) v.grid_id, v.community_id, v.code, v.name, v.version, v.geom_after as geom, v.at from grid_versions v
              where v.grid_id in (select grid_id from grid_versions where community_id = ${communityId})
                and ${at.wholeDay ? sql`v.at < ${at.time}::timestamptz + interval '1 day'` : sql`v.at <= ${at.time}`}
              order by v.grid_id, v.id desc`
          : sql`select g.id as grid_id, g.community_id, g.code, g.name, g.version, g.geom, g.updated_at as at from grids g where g.community_id = ${communityId}`
      })
    select exists (select from communities where id = ${communityId}) as known,
           coalesce(${readable('communities', { community: 'id' }, viewer, 'c')}, false) as visible,
           json_build_object('type', 'FeatureCollection', 'at', ${at ? at.time.toISOString() : null}::timestamptz,
             'features', coalesce((select json_agg(json_build_object(
               'type', 'Feature', 'id', v.grid_id, 'geometry', ST_AsGeoJSON(v.geom, 7)::json,
               'properties', json_build_object('id', v.grid_id, 'code', v.code, 'name', v.name, 'version', v.version, 'since', v.at))
               order by v.code) from last v where v.geom is not null and v.community_id = ${communityId} and ${versionsRead(viewer)}), '[]'))::text as body
    from (select ${communityId}::int as id) q left join communities c on c.id = q.id`.execute(db);
  if (!found.known) throw new DomainError('community.not_found', `No community ${communityId}`, { field: 'id' }, { id: communityId });
  if (!found.visible)
    throw new DomainError('access.outside_scope', `community ${communityId} lies outside what a ${viewer.role} in your scope may see`, {
      field: 'id',
    });
  return found.body;
}
