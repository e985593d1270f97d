import type { Kysely } from 'kysely';
import { z } from 'zod';
import { mayWrite } from '../../access/policy.ts';
import { createdBy, refuseOutsideScope, refuseRelinksOutsideScope } from '../../access/rows.ts';
import type { Viewer } from '../../access/viewer.ts';
import type { Actor } from '../../db/actor.ts';
import { insertFeatures, lockMapWrites } from '../../db/feature-store.ts';
import type { DB } from '../../db/schema.ts';
import { parseBody } from '../../domain/body.ts';
import { validProperties } from '../../access/resource.ts';
import { parseId, parseQueryValue, parseTime } from '../../domain/params.ts';
import { DomainError, invalidParameter } from '../../domain/errors.ts';
import { issues } from '../issues/resource.ts';
import type { Open311App } from './keys.ts';
import {
  categories,
  MAX_REQUESTS,
  OPEN311_STATUSES,
  type CategoryRow,
  type Open311Status,
  type RequestFilter,
  type ServiceRequestRow,
} from './queries.ts';

/**
 * GeoReport v2's vocabulary over the problem wall: its parameters parsed (an empty one is as if not sent,
 * as the spec says; parameters it does not know are ignored, as clients send extensions), its services
 * and requests shaped field by field, and a request reported as an issue.
 */

/** An optional parameter: absent when not sent or sent empty. */
export const optionalText = (value: unknown, field: string) =>
  value === undefined || value === '' ? undefined : (parseQueryValue(value, field, 'text') as string);

/** A parameter that may be sent several times and/or comma-separated (service_code=a,b&service_code=c). */
const listParameter = (value: unknown) => {
  const items = [value ?? []]
    .flat()
    .flatMap((v) => String(v).split(','))
    .map((v) => v.trim())
    .filter(Boolean);
  return items.length ? items : undefined;
};

/** Gridmap serves one jurisdiction: a client may name it, or not. */
export function checkJurisdiction(value: unknown, jurisdiction: string) {
  const given = optionalText(value, 'jurisdiction_id');
  if (given !== undefined && given !== jurisdiction) {
    throw new DomainError(
      'open311.jurisdiction_not_found',
      `jurisdiction_id ${given} is not served here; this endpoint serves ${jurisdiction}`,
      { field: 'jurisdiction_id' },
    );
  }
}

/** A W3C datetime (https://www.w3.org/TR/NOTE-datetime): a date, or a date and time with its time zone. */
const parseW3cDatetime = (value: unknown, field: string) => parseTime(optionalText(value, field), field);

/** The span of report times one GET may cover, and the span it covers when none is given (the most recent). */
export const WINDOW_DAYS = 90;
const DAY_MS = 86_400_000;

/** GET requests' parameters: service_request_id, or service_code, status, start_date and end_date. */
export function parseRequestFilter(query: Record<string, unknown>): RequestFilter {
  const ids = listParameter(query.service_request_id);
  if (ids) {
    if (ids.length > MAX_REQUESTS)
      throw invalidParameter('service_request_id', `service_request_id may name at most ${MAX_REQUESTS} requests`);
    return { ids: ids.map((id) => parseId(id, 'service_request_id')) };
  }
  const statuses = listParameter(query.status);
  const unknown = statuses?.find((s) => !OPEN311_STATUSES.includes(s as Open311Status));
  if (unknown !== undefined) throw invalidParameter('status', `status must be open or closed (or both, comma-separated), not ${unknown}`);
  let from = parseW3cDatetime(query.start_date, 'start_date');
  let to = parseW3cDatetime(query.end_date, 'end_date');
  const window = WINDOW_DAYS * DAY_MS;
  if (!from && !to) to = new Date();
  if (!from) from = new Date(to!.getTime() - window);
  if (!to) to = new Date(from.getTime() + window);
  if (from > to) throw invalidParameter('end_date', 'end_date must not be before start_date');
  if (to.getTime() - from.getTime() > window)
    throw invalidParameter('end_date', `start_date to end_date may span at most ${WINDOW_DAYS} days`);
  return { serviceCodes: listParameter(query.service_code), statuses: statuses as Open311Status[] | undefined, from, to };
}

const URGENCY_WORDS = { urgent: '紧急', general: '一般', complex: '复杂' } as const;

/** What the wall promises for a category, in words: 一般事项，7 天内办结. */
export function serviceNotice({ urgency, due_hours }: Pick<CategoryRow, 'urgency' | 'due_hours'>) {
  const due = due_hours % 24 === 0 ? `${due_hours / 24} 天` : `${due_hours} 小时`;
  return `${URGENCY_WORDS[urgency]}事项，${due}内办结`;
}

/** A category as a GeoReport service: none needs more than the request's own fields (metadata false). */
export const toService = (category: CategoryRow) => ({
  service_code: category.code,
  service_name: category.name,
  description: serviceNotice(category),
  metadata: false,
  type: 'realtime',
  keywords: `${category.name}, ${category.code}`,
  group: `${URGENCY_WORDS[category.urgency]}事项`,
});

/** A request with every field GeoReport lists, in its order; Gridmap keeps no address ids or postcodes. */
export const toServiceRequest = ({ urgency, due_hours, ...row }: ServiceRequestRow) => ({
  service_request_id: row.service_request_id,
  status: row.status,
  status_notes: row.status_notes,
  service_name: row.service_name,
  service_code: row.service_code,
  description: row.description,
  agency_responsible: row.agency_responsible,
  service_notice: serviceNotice({ urgency, due_hours }),
  requested_datetime: row.requested_datetime,
  updated_datetime: row.updated_datetime,
  expected_datetime: row.expected_datetime,
  address: row.address,
  address_id: null,
  zipcode: null,
  lat: row.lat,
  long: row.long,
  media_url: row.media_url,
});

/** Text sent once; `required` says what to send when it is missing. */
const text = (required?: string) =>
  z.string({ error: (issue) => (issue.input === undefined && required ? required : 'must be sent once, as text') });

/** Degrees as a form sends them (text) or JSON does (a number). */
const coordinate = (bound: number) => {
  const range = `must be a number from -${bound} to ${bound}`;
  return z.preprocess(
    (value) => (typeof value === 'string' && value.trim() !== '' ? Number(value) : value),
    z
      .number({ error: (issue) => (issue.input === undefined ? LAT_LONG_REQUIRED : range) })
      .min(-bound, range)
      .max(bound, range),
  );
};
const SERVICE_CODE_REQUIRED = 'required: a service_code from services.json';
const LAT_LONG_REQUIRED = 'required: Gridmap places a request at its lat and long (address_string or address_id alone is not enough)';

/**
 * POST requests' parameters. The reporter's email, names, phone, device_id and account_id are accepted and
 * dropped: Gridmap knows its reporter by the api_key, and stores no personal data it was not asked to keep.
 * attribute[…] is dropped too (no service has metadata).
 */
const requestBody = z.object({
  service_code: text(SERVICE_CODE_REQUIRED).trim().min(1, SERVICE_CODE_REQUIRED),
  lat: coordinate(90),
  long: coordinate(180),
  // its length and characters are checked as an issue's description is
  description: text().optional(),
  // a picture elsewhere: kept as a link, never fetched
  media_url: z.httpUrl('must be an http or https URL').max(2000, 'must be at most 2000 characters').optional(),
});

/** Who posts a request: a signed-in user (a session token), or a client application's own key (keys.ts). */
export type Reporter = { viewer: Viewer } | { app: Open311App };

/** An issue's title from what the reporter wrote: its first 60 characters on one line, else the service's name. */
const TITLE_CHARACTERS = 60;
const titleOf = (description: string | undefined, service: CategoryRow) =>
  Array.from(description?.replace(/\s+/g, ' ').trim() ?? '')
    .slice(0, TITLE_CHARACTERS)
    .join('') || service.name;

/**
 * POST requests: a new issue at the point, with the rules of POST /api/v1/issues: a role that may report
 * issues, a point in its scope, the map-write lock, the reporter recorded. Nothing is written unless all hold.
 */
export async function reportServiceRequest(db: Kysely<DB>, reporter: Reporter, actor: Actor, params: Record<string, unknown>) {
  const viewer = 'viewer' in reporter ? reporter.viewer : undefined;
  if (viewer && !mayWrite('issues', viewer.role, 'create')) {
    throw new DomainError('open311.forbidden', `api_key: a ${viewer.role} may not report issues`, { field: 'api_key' });
  }
  const given = Object.fromEntries(Object.entries(params).filter(([, value]) => value !== ''));
  const body = parseBody(requestBody, given);
  const [service] = await categories(db, body.service_code);
  if (!service)
    throw new DomainError('open311.service_not_found', `service_code ${body.service_code} is not a service here; see services.json`, {
      field: 'service_code',
    });
  if ('app' in reporter && !reporter.app.services.includes(service.code)) {
    throw new DomainError(
      'open311.forbidden',
      `service_code: this api_key (${reporter.app.name}) may post ${reporter.app.services.join(', ')} only, not ${service.code}`,
      { field: 'service_code' },
    );
  }
  const description = body.description?.trim() || undefined;
  const properties = {
    // the description first: what is wrong with the title derived from it is wrong with it
    ...validProperties(issues, { description: description ?? null, title: titleOf(description, service), category: service.code }, ''),
    media_url: body.media_url ?? null,
    // an application's report is its own: no Gridmap user reported it
    ...(viewer ? createdBy(issues, viewer) : {}),
  };
  const geometry = { type: 'Point', coordinates: [body.long, body.lat] };
  const id = await db.transaction().execute(async (trx) => {
    const auditFrom = await lockMapWrites(trx, actor);
    const [created] = await insertFeatures(trx, issues, Object.keys(properties), [{ geometry, properties }]);
    // an application posts anywhere in the city (SERVICE_AREA); a user, in its scope
    if (!viewer) return created;
    await refuseOutsideScope(trx, issues, viewer, 'create', [created]).catch((error: unknown) => {
      if (error instanceof DomainError && error.kind === 'forbidden') {
        throw new DomainError(
          'access.outside_scope',
          `lat, long: the point lies outside the area a ${viewer.role} in your scope may report in`,
          { field: 'lat' },
        );
      }
      throw error;
    });
    await refuseRelinksOutsideScope(trx, viewer, auditFrom);
    return created;
  });
  return { service_request_id: String(id), service_notice: serviceNotice(service), account_id: null };
}
