import type { Feature, FeatureCollection, Point } from 'geojson';
import { useEffect, useState } from 'react';
import { apiFetch, getJson, problemOf, sendJson } from '../../api.ts';

/** The walls an issue climbs: its grid's, its community's, its street's. */
export type WallLevel = 'grid' | 'community' | 'street';
/** A wall: a grid or community by id, a street by its 9-digit code. */
export interface WallRef { level: WallLevel; id: string }

export interface WallIssue extends Feature<Point> {
  id: number;
  properties: {
    title: string; category: string; status: string; wall: WallLevel; reported_at: string; due_at: string; overdue: boolean;
    extended_hours: number; reopen_count: number; grid_id: number | null; community_id: number | null; street_code: string | null; version: number;
  };
}
export interface Wall extends FeatureCollection<Point> {
  wall: { level: WallLevel; id: string; name: string; code: string };
  total: number;
  overdue: number;
  features: WallIssue[];
}

export interface Issue extends Feature<Point> {
  id: number;
  /** as stored: `overdue` is the walls' own measure */
  properties: Omit<WallIssue['properties'], 'overdue'> & {
    description: string | null; answer: string | null; answered_at: string | null; rating: number | null;
    reported_by: number | null; duplicate_of: number | null;
  };
}

/** What a caller may do to an issue now, as its timeline says. */
export type IssueAction = 'accept' | 'start' | 'resolve' | 'escalate' | 'reject' | 'answer' | 'rate' | 'close' | 'request_extension' | 'decide_extension';

export interface Step {
  id: number; at: string; action: string; from_status: string | null; to_status: string | null;
  from_wall: string | null; to_wall: string | null; note: string | null; username: string | null;
}
export interface Extension {
  id: number; wall: WallLevel; hours: number; reason: string; state: 'pending' | 'approved' | 'refused';
  requested_at: string; decided_at: string | null; decision: string | null;
}
export interface Timeline {
  issue_id: number; status: string; wall: WallLevel; version: number; due_at: string; overdue: boolean; duplicate_of: number | null;
  actions: IssueAction[]; steps: Step[]; extensions: Extension[];
}

export type PhotoKind = 'report' | 'answer';
/** The pictures the API takes (at most 5 MB, five of each kind per issue). */
export const PHOTO_TYPES = 'image/jpeg,image/png,image/webp';
export interface Photo { id: number; kind: PhotoKind; content_type: string; byte_size: number; created_at: string; url: string }

export interface Category { code: string; name: string; urgency: string; due_hours: number }
export const categoryName = (categories: Category[], code: string) => categories.find((c) => c.code === code)?.name ?? code;
export interface PossibleDuplicate { id: number; title: string; category: string; status: string; wall: WallLevel; reported_at: string; distance_m: number }

export const wallUrl = ({ level, id }: WallRef) => `/api/v1/walls/${level}/${id}`;

/** The wall an issue is on now. */
export function wallOf({ wall, grid_id, community_id, street_code }: Issue['properties']): WallRef {
  return { level: wall, id: String(wall === 'grid' ? grid_id : wall === 'community' ? community_id : street_code) };
}

/** One step of the lifecycle, on the version the caller saw (a 412 says someone acted first). */
export const transition = (id: number, version: number, body: Record<string, unknown>) =>
  sendJson<Timeline>('POST', `/api/v1/issues/${id}/transitions`, body, { 'If-Match': `"${version}"` });

export async function uploadPhoto(id: number, kind: PhotoKind, file: File) {
  const response = await apiFetch(`/api/v1/issues/${id}/photos?kind=${kind}`, { method: 'POST', body: file, headers: { 'Content-Type': file.type } });
  if (!response.ok) throw new Error(await problemOf(response));
}

let categories: Promise<Category[]> | undefined;
/** The categories with their names and due times (public, and the same for every page: asked once). */
export function useCategories(): Category[] {
  const [list, setList] = useState<Category[]>([]);
  useEffect(() => {
    categories ??= getJson<{ categories: Category[] }>('/api/v1/issue-categories').then((r) => r.categories);
    categories.then(setList, () => (categories = undefined));
  }, []);
  return list;
}

export interface Community { id: number; name: string; street_code: string; street_name: string }
/** The communities the user may read. */
export function useCommunities(): Community[] {
  const [list, setList] = useState<Community[]>([]);
  useEffect(() => {
    getJson<{ features: { id: number; properties: Omit<Community, 'id'> }[] }>('/api/v1/communities?limit=1000')
      .then((c) => setList(c.features.map((f) => ({ ...f.properties, id: f.id }))), () => setList([]));
  }, []);
  return list;
}
