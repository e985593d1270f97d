import type { Request } from 'express';
import type { Actor } from '../db/actor.ts';

/** Who is asking: the signed-in user as every route and query sees it. */

export const ROLES = ['admin', 'planner', 'dispatcher', 'leader', 'grid_worker', 'volunteer', 'resident'] as const;
export type Role = (typeof ROLES)[number];

/**
 * The part of the map a user works in. A grid carries its community, which a grid worker reads around it.
 * Admins have none: they see everything.
 */
export type Scope =
  | { kind: 'district'; code: string }
  | { kind: 'street'; code: string }
  | { kind: 'community'; id: number }
  | { kind: 'grid'; id: number; communityId: number };

export interface Viewer {
  id: number;
  username: string;
  role: Role;
  scope: Scope | null;
  /** a volunteer's own member record */
  memberId: number | null;
  /** signed in with a read-only access key (a GIS client): it may only read */
  readOnly?: boolean;
}

/** A scope as the API writes it: {"community": 12}, {"street": "610602001"}. */
export function scopeJson(scope: Scope | null) {
  if (!scope) return null;
  return scope.kind === 'district' || scope.kind === 'street' ? { [scope.kind]: scope.code } : { [scope.kind]: scope.id };
}

declare module 'express-serve-static-core' {
  interface Request {
    /** set by the access guard on every route that is not public */
    viewer?: Viewer;
  }
}

/** The bearer token of a request, if it carries one. */
export function bearerToken(req: Request): string | undefined {
  const match = req.get('Authorization')?.match(/^Bearer +([A-Za-z0-9_-]{20,100}) *$/i);
  return match?.[1];
}

/** The query parameter that carries an access key on /ogc and /tiles, for GIS clients that send no header. */
export const ACCESS_KEY_PARAMETER = 'access_key';

export interface Credential {
  token: string;
  /** only an access key opens a session this way: a session token is never sent as a password or in a URL */
  keyOnly: boolean;
  /** where it came, for the refusal of one that opens nothing */
  field: string;
}

/**
 * What a request signs in with: a bearer token (any session), or an access key where a GIS client can send
 * no bearer header (QGIS 3.22): as the HTTP Basic password under any user name, or as `access_key` on /ogc and /tiles.
 */
export function credentialOf(req: Request): Credential | undefined {
  const bearer = bearerToken(req);
  if (bearer) return { token: bearer, keyOnly: false, field: 'Authorization' };
  const basic = req.get('Authorization')?.match(/^Basic +([A-Za-z0-9+/]+=*) *$/i);
  if (basic) {
    const pair = Buffer.from(basic[1], 'base64').toString();
    return { token: pair.slice(pair.indexOf(':') + 1), keyOnly: true, field: 'Authorization' };
  }
  const key = req.query[ACCESS_KEY_PARAMETER];
  if (key !== undefined && /^\/(ogc|tiles)(\/|$)/i.test(req.baseUrl + req.path))
    return { token: String(key), keyOnly: true, field: ACCESS_KEY_PARAMETER };
  return undefined;
}

export const actorOf = (req: Request): Actor => ({
  user_id: req.viewer?.id,
  username: req.viewer?.username ?? 'anonymous',
  request_id: String(req.id),
});
