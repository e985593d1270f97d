import { useMemo } from 'react';
import type { ApiAnswer } from '../../../../server/http/api.ts';
import { apiFetch, problemOf, sendJson } from '../../api.ts';
import { useServerState } from '../../serverState.ts';

/** A wall (GET /api/v1/walls/grid/:id, …/community/:id, …/street/:code): its issues, oldest due first. */
export type Wall = ApiAnswer<'GET /api/v1/walls/grid/:id'>;
export type WallIssue = Wall['features'][number];
/** The walls an issue climbs: its grid's, its community's, its street's. */
export type WallLevel = WallIssue['properties']['wall'];
/** A wall: a grid or community by id, a street by its 9-digit code. */
export interface WallRef {
  level: WallLevel;
  id: string;
}

/** An issue as stored (GET /api/v1/issues/:id): `overdue` is the walls' own measure. */
export type Issue = ApiAnswer<'GET /api/v1/issues/:id'>;

export type Timeline = ApiAnswer<'GET /api/v1/issues/:id/timeline'>;
/** What a caller may do to an issue now, as its timeline says. */
export type IssueAction = Timeline['actions'][number];
export type Step = Timeline['steps'][number];
export type Extension = Timeline['extensions'][number];

export type Photo = ApiAnswer<'GET /api/v1/issues/:id/photos'>['photos'][number];
export type PhotoKind = Photo['kind'];
/** The pictures the API takes (at most 5 MB, five of each kind per issue). */
export const PHOTO_TYPES = 'image/jpeg,image/png,image/webp';

export type Category = ApiAnswer<'GET /api/v1/issue-categories'>['categories'][number];
export const categoryName = (categories: Category[], code: string) => categories.find((c) => c.code === code)?.name ?? code;
export type PossibleDuplicate = ApiAnswer<'GET /api/v1/issues/possible-duplicates'>['issues'][number];

export const wallUrl = ({ level, id }: WallRef) => `/api/v1/walls/${level}/${id}`;

/** The wall an issue is on now. */
export function wallOf({ wall, grid_id, community_id, street_code }: Issue['properties']): WallRef {
  return { level: wall, id: String(wall === 'grid' ? grid_id : wall === 'community' ? community_id : street_code) };
}

/** One step of the lifecycle, on the version the caller saw (a 412 says someone acted first). */
export const transition = (id: number, version: number, body: Record<string, unknown>) =>
  sendJson<Timeline>('POST', `/api/v1/issues/${id}/transitions`, body, { 'If-Match': `"${version}"` });

export async function uploadPhoto(id: number, kind: PhotoKind, file: File) {
  const response = await apiFetch(`/api/v1/issues/${id}/photos?kind=${kind}`, {
    method: 'POST',
    body: file,
    headers: { 'Content-Type': file.type },
  });
  if (!response.ok) throw new Error(await problemOf(response));
}

const NO_CATEGORIES: Category[] = [];
/** The categories with their names and due times (public, and the same for every page: read once). */
export function useCategories(): Category[] {
  return useServerState<{ categories: Category[] }>('reference', '/api/v1/issue-categories').data?.categories ?? NO_CATEGORIES;
}

type Communities = ApiAnswer<'GET /api/v1/communities'>;
export type Community = Communities['features'][number]['properties'] & { id: number };
const NO_COMMUNITIES: Community[] = [];
/** The communities the user may read. */
export function useCommunities(): Community[] {
  const { data } = useServerState<Communities>('grid', '/api/v1/communities?limit=1000');
  return useMemo(() => data?.features.map((f) => ({ ...f.properties, id: f.id })) ?? NO_COMMUNITIES, [data]);
}
