import { createHash } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Viewer } from '../../access/viewer.ts';
import { writeAs, type Actor } from '../../db/actor.ts';
import type { DB } from '../../db/schema.ts';
import { DomainError } from '../../domain/errors.ts';
import { photoKind, photoType } from './answers.ts';
import { issueRow, worksWall } from './lifecycle.ts';

/**
 * Pictures of a problem (kind report: by its reporter or the staff of its wall) and of the work done (kind
 * answer: by the staff), served to whoever may read the issue.
 */

/** Five pictures of each kind per issue (the database counts them), each at most this large. */
export const MAX_PHOTO_BYTES = 5 * 1024 * 1024;
export const MAX_PHOTOS = 5;
export const PHOTO_KINDS = photoKind.options;
export const PHOTO_TYPES = photoType.options;
export type PhotoKind = (typeof PHOTO_KINDS)[number];

/** What a picture's first bytes say it is; a declared type that disagrees is refused. */
function sniffImage(data: Buffer): string | undefined {
  if (data.length >= 3 && data[0] === 0xff && data[1] === 0xd8 && data[2] === 0xff) return 'image/jpeg';
  if (data.length >= 8 && data.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'image/png';
  if (data.length >= 12 && data.toString('latin1', 0, 4) === 'RIFF' && data.toString('latin1', 8, 12) === 'WEBP') return 'image/webp';
  return undefined;
}

/** Stores a picture sent as `declared` (its Content-Type) for the issue, if the viewer may add one of the kind. */
export async function addPhoto(
  db: Kysely<DB>,
  viewer: Viewer,
  actor: Actor,
  id: number,
  kind: PhotoKind,
  declared: string | undefined,
  data: unknown,
) {
  const type = PHOTO_TYPES.find((t) => t === declared);
  if (!type)
    throw new DomainError('issue.photo_type_unsupported', `send the picture as the body, with Content-Type ${PHOTO_TYPES.join(', ')}`, {
      field: 'Content-Type',
    });
  if (!Buffer.isBuffer(data) || data.length === 0)
    throw new DomainError('request.missing_body', 'send the picture as the body', { field: 'body' });
  if (sniffImage(data) !== type)
    throw new DomainError('issue.photo_type_mismatch', `the body is not a ${type} image`, { field: 'Content-Type' });

  const issue = await issueRow(db, viewer, id);
  const staff = worksWall(viewer, issue);
  const reporter = issue.reported_by === viewer.id && !['closed', 'rejected'].includes(issue.status);
  if (!(staff || (kind === 'report' && reporter))) {
    throw new DomainError(
      'issue.forbidden',
      kind === 'answer'
        ? "pictures of the work done are added by the staff of the issue's wall"
        : 'pictures of a problem are added by its reporter, while it is open, or by the staff of its wall',
      { field: 'kind' },
    );
  }
  const sha256 = createHash('sha256').update(data).digest('hex');
  const photo = await writeAs(db, actor, (trx) =>
    trx
      .insertInto('issue_photos')
      .values({ issue_id: id, kind, content_type: type, byte_size: data.length, sha256, data, created_by: viewer.id })
      .returning('id')
      .executeTakeFirstOrThrow(),
  ).catch((error: { constraint?: string }) => {
    if (error.constraint !== 'issue_photos_limit') throw error;
    throw new DomainError('issue.too_many_photos', `issue ${id} has ${MAX_PHOTOS} ${kind} photos already; remove one first`, {
      field: 'kind',
    });
  });
  return { id: photo.id, kind, content_type: type, byte_size: data.length, url: `/api/v1/issues/${id}/photos/${photo.id}` };
}

/** The issue's pictures, of the problem first. */
export async function issuePhotos(db: Kysely<DB>, viewer: Viewer, id: number) {
  await issueRow(db, viewer, id);
  return db
    .selectFrom('issue_photos')
    .select([
      'id',
      'kind',
      'content_type',
      'byte_size',
      'created_at',
      sql<string>`'/api/v1/issues/' || issue_id || '/photos/' || id`.as('url'),
    ])
    .where('issue_id', '=', id)
    .orderBy('kind', 'desc')
    .orderBy('id')
    .execute();
}

/** One picture's bytes, with their hash for the ETag. */
export async function photoOf(db: Kysely<DB>, viewer: Viewer, id: number, photoId: number) {
  await issueRow(db, viewer, id);
  const photo = await db
    .selectFrom('issue_photos')
    .select(['content_type', 'sha256', 'data'])
    .where('id', '=', photoId)
    .where('issue_id', '=', id)
    .executeTakeFirst();
  if (!photo) throw new DomainError('issue.photo_not_found', `issue ${id} has no photo ${photoId}`, { field: 'photo' });
  return photo;
}

/** Removes a picture: whoever added it may, and the staff of the issue's wall. */
export async function removePhoto(db: Kysely<DB>, viewer: Viewer, actor: Actor, id: number, photoId: number) {
  const issue = await issueRow(db, viewer, id);
  const photo = await db
    .selectFrom('issue_photos')
    .select('created_by')
    .where('id', '=', photoId)
    .where('issue_id', '=', id)
    .executeTakeFirst();
  if (!photo) throw new DomainError('issue.photo_not_found', `issue ${id} has no photo ${photoId}`, { field: 'photo' });
  if (!(worksWall(viewer, issue) || photo.created_by === viewer.id)) {
    throw new DomainError('issue.forbidden', "a photo is removed by whoever added it or by the staff of the issue's wall", {
      field: 'photo',
    });
  }
  await writeAs(db, actor, (trx) => trx.deleteFrom('issue_photos').where('id', '=', photoId).execute());
}
