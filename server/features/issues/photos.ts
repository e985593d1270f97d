import { createHash } from 'node:crypto';
import express, { Router } from 'express';
import { sql } from 'kysely';
import { actorOf } from '../../access/viewer.ts';
import { writeAs } from '../../db/actor.ts';
import type { Database } from '../../db/database.ts';
import { parseId, parseQueryValue } from '../../domain/params.ts';
import { DomainError, invalidParameter } from '../../domain/errors.ts';
import { issueRow, worksWall } from './lifecycle.ts';

/** Five pictures of each kind per issue (the database counts them), each at most this large. */
export const MAX_PHOTO_BYTES = 5 * 1024 * 1024;
export const MAX_PHOTOS = 5;
const PHOTO_KINDS = ['report', 'answer'] as const;

/** What a picture's first bytes say it is; a declared type that disagrees is refused. */
function sniffImage(data: Buffer): string | undefined {
  if (data.length >= 3 && data[0] === 0xff && data[1] === 0xd8 && data[2] === 0xff) return 'image/jpeg';
  if (data.length >= 8 && data.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'image/png';
  if (data.length >= 12 && data.toString('latin1', 0, 4) === 'RIFF' && data.toString('latin1', 8, 12) === 'WEBP') return 'image/webp';
  return undefined;
}

/**
 * Pictures of a problem (kind report: by its reporter or the staff of its wall) and of the work done (kind
 * answer: by the staff), served to whoever may read the issue.
 */
export function photoRoutes(database: Database) {
  const { db } = database;
  const router = Router();
  const types = ['image/jpeg', 'image/png', 'image/webp'];

  router.post('/api/v1/issues/:id/photos', express.raw({ type: () => true, limit: MAX_PHOTO_BYTES }), async (req, res) => {
    const id = parseId(req.params.id);
    const kind = parseQueryValue(req.query.kind, 'kind', 'text') ?? 'report';
    if (!(PHOTO_KINDS as readonly unknown[]).includes(kind)) throw invalidParameter('kind', 'kind must be report or answer');
    const declared = req.get('Content-Type')?.split(';')[0].trim().toLowerCase();
    if (!declared || !types.includes(declared)) {
      throw new DomainError('issue.photo_type_unsupported', `send the picture as the body, with Content-Type ${types.join(', ')}`, { field: 'Content-Type' });
    }
    const data = req.body as Buffer;
    if (!Buffer.isBuffer(data) || data.length === 0) throw new DomainError('request.missing_body', 'send the picture as the body', { field: 'body' });
    if (sniffImage(data) !== declared) throw new DomainError('issue.photo_type_mismatch', `the body is not a ${declared} image`, { field: 'Content-Type' });

    const issue = await issueRow(db, req.viewer!, id);
    const staff = worksWall(req.viewer!, issue);
    const reporter = issue.reported_by === req.viewer!.id && !['closed', 'rejected'].includes(issue.status);
    if (!(staff || (kind === 'report' && reporter))) {
      throw new DomainError('issue.forbidden', kind === 'answer' ? 'pictures of the work done are added by the staff of the issue\'s wall'
        : 'pictures of a problem are added by its reporter, while it is open, or by the staff of its wall', { field: 'kind' });
    }
    const sha256 = createHash('sha256').update(data).digest('hex');
    const { rows: [photo] } = await writeAs(db, actorOf(req), (trx) => sql<{ id: number }>`
      insert into issue_photos (issue_id, kind, content_type, byte_size, sha256, data, created_by)
      values (${id}, ${kind}, ${declared}, ${data.length}, ${sha256}, ${data}, ${req.viewer!.id}) returning id`.execute(trx))
      .catch((error: { constraint?: string }) => {
        if (error.constraint !== 'issue_photos_limit') throw error;
        throw new DomainError('issue.too_many_photos', `issue ${id} has ${MAX_PHOTOS} ${kind} photos already; remove one first`, { field: 'kind' });
      });
    res.status(201).location(`/api/v1/issues/${id}/photos/${photo.id}`)
      .json({ id: photo.id, kind, content_type: declared, byte_size: data.length, url: `/api/v1/issues/${id}/photos/${photo.id}` });
  });

  router.get('/api/v1/issues/:id/photos', async (req, res) => {
    const id = parseId(req.params.id);
    await issueRow(db, req.viewer!, id);
    const { rows } = await sql`
      select id, kind, content_type, byte_size, created_at, '/api/v1/issues/' || issue_id || '/photos/' || id as url
      from issue_photos where issue_id = ${id} order by kind desc, id`.execute(db);
    res.json({ photos: rows });
  });

  router.get('/api/v1/issues/:id/photos/:photo', async (req, res) => {
    const id = parseId(req.params.id);
    await issueRow(db, req.viewer!, id);
    const { rows: [photo] } = await sql<{ content_type: string; sha256: string; data: Uint8Array }>`
      select content_type, sha256, data from issue_photos where id = ${parseId(req.params.photo, 'photo')} and issue_id = ${id}`.execute(db);
    if (!photo) throw new DomainError('issue.photo_not_found', `issue ${id} has no photo ${req.params.photo}`, { field: 'photo' });
    const etag = `"${photo.sha256}"`;
    res.set({ ETag: etag, 'Cache-Control': 'private, max-age=86400' });
    if (req.get('If-None-Match') === etag) return void res.status(304).end();
    res.type(photo.content_type).send(Buffer.from(photo.data));
  });

  router.delete('/api/v1/issues/:id/photos/:photo', async (req, res) => {
    const id = parseId(req.params.id);
    const issue = await issueRow(db, req.viewer!, id);
    const photoId = parseId(req.params.photo, 'photo');
    const { rows: [photo] } = await sql<{ created_by: number | null }>`select created_by from issue_photos where id = ${photoId} and issue_id = ${id}`.execute(db);
    if (!photo) throw new DomainError('issue.photo_not_found', `issue ${id} has no photo ${photoId}`, { field: 'photo' });
    if (!(worksWall(req.viewer!, issue) || photo.created_by === req.viewer!.id)) {
      throw new DomainError('issue.forbidden', 'a photo is removed by whoever added it or by the staff of the issue\'s wall', { field: 'photo' });
    }
    await writeAs(db, actorOf(req), (trx) => sql`delete from issue_photos where id = ${photoId}`.execute(trx));
    res.status(204).end();
  });

  return router;
}
