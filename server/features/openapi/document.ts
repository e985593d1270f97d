import { z } from 'zod';
import { ERROR_CODES } from '../../domain/errors.ts';
import { mayRead, mayWrite, type ResourceName } from '../../access/policy.ts';
import { ACCESS_RULES, MAP_RESOURCES, type AccessRule } from '../../access/rules.ts';
import { ROLES } from '../../access/viewer.ts';
import { keyBody, MAX_KEYS } from '../accounts/keys.ts';
import { open311KeyBody } from '../open311/keys.ts';
import { newUserSchema, userChangeSchema } from '../accounts/service.ts';
import { dispatchBody } from '../dispatch/routes.ts';
import { DISPATCH_ACTIONS } from '../dispatch/service.ts';
import { SKILLS } from '../members/resource.ts';
import { MAX_K, MAX_RADIUS_M, selfChange } from '../volunteers/routes.ts';
import { MAX_PHOTO_BYTES, MAX_PHOTOS } from '../issues/photos.ts';
import { categoryBody, categoryPatch, decisionBody, extensionBody, transitionBody } from '../issues/routes.ts';
import { ISSUE_STATUSES } from '../issues/resource.ts';
import { monthlyBody } from '../walls/monthly.ts';
import { TILE_LAYERS } from '../tiles/layers.ts';
import { MIN_GRID_AREA_M2 } from '../planning/change.ts';
import { planningBodies } from '../planning/routes.ts';

/**
 * JSON Schema for OpenAPI 3.0 of a request, from the zod schema that validates it. Output mode draws what a pipe
 * checks (a geometry's shape); made to say what a request may send: a property with a default may be left out,
 * and an object that is not strict takes other properties (and drops them).
 */
const schema = (type: z.ZodType) => z.toJSONSchema(type, {
  target: 'openapi-3.0', io: 'output', unrepresentable: 'any',
  override: ({ zodSchema, jsonSchema }) => {
    const def = zodSchema._zod.def;
    // OpenAPI 3.0 reads nullable only beside a type: a nullable union (a street's geometry) says it of each member
    if (jsonSchema.nullable && !jsonSchema.type && jsonSchema.anyOf) {
      for (const member of jsonSchema.anyOf) member.nullable = true;
      delete jsonSchema.nullable;
    }
    if (def.type !== 'object') return;
    if (!def.catchall) delete jsonSchema.additionalProperties;
    const required = jsonSchema.required?.filter((key) => def.shape[key]._zod.optin === undefined);
    if (required?.length) jsonSchema.required = required;
    else delete jsonSchema.required;
  },
});

const problem = { $ref: '#/components/schemas/Problem' };
const problemResponse = (description: string) => ({ description, content: { 'application/problem+json': { schema: problem } } });
const geojson = (description: string, ref?: string) => ({
  description,
  content: { 'application/geo+json': { schema: ref ? { $ref: ref } : { type: 'object' } } },
});
const idParameter = { name: 'id', in: 'path', required: true, schema: { type: 'integer', minimum: 1 } };
const pascal = (name: string) => name.replace(/(^|_)(\w)/g, (_, __, c: string) => c.toUpperCase());

/**
 * The OpenAPI 3.0 document of the API, built from the resource definitions and their zod schemas: the
 * contract the server enforces is the one it publishes.
 */
export function openApiDocument() {
  const schemas: Record<string, unknown> = {
    Problem: {
      type: 'object',
      description: 'RFC 9457 problem details; `field` names the part of the request that was wrong; `code` says what went wrong in a '
        + 'stable word a client translates, with `params` the values its sentence names (`detail` is English)',
      required: ['type', 'title', 'status', 'code', 'params'],
      properties: {
        type: { type: 'string' }, title: { type: 'string' }, status: { type: 'integer' }, detail: { type: 'string' },
        instance: { type: 'string' }, field: { type: 'string' },
        code: { type: 'string', enum: ERROR_CODES }, params: { type: 'object', description: 'strings, numbers, booleans or null, by name' },
        errors: { type: 'array', items: { type: 'object', properties: { field: { type: 'string' }, message: { type: 'string' } } } },
      },
    },
    FeatureCollection: {
      type: 'object',
      required: ['type', 'features'],
      properties: {
        type: { type: 'string', enum: ['FeatureCollection'] },
        numberMatched: { type: 'integer' }, numberReturned: { type: 'integer' },
        links: { type: 'array', items: { type: 'object', properties: { rel: { type: 'string' }, href: { type: 'string' }, type: { type: 'string' } } } },
        features: { type: 'array', items: { type: 'object' } },
      },
    },
  };
  const paths: Record<string, unknown> = {
    '/api/v1/health': {
      get: {
        summary: 'Health of the server and its database', tags: ['service'],
        responses: { 200: { description: '`{"status":"ok","database":"embedded"|"server","postgis":"3.x"}`' }, 503: problemResponse('the database does not answer') },
      },
    },
    '/api/v1/map/config': { get: { summary: 'What the web map needs (the configured basemap)', tags: ['service'], responses: { 200: { description: 'map configuration' } } } },
  };

  paths['/api/v1/auth/login'] = {
    post: {
      summary: 'Sign in: a bearer token for the other calls', tags: ['accounts'],
      description: `Failed logins are limited per account and per address (429 with Retry-After).`,
      requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['username', 'password'], properties: { username: { type: 'string' }, password: { type: 'string', format: 'password' } } } } } },
      responses: {
        200: { description: '`{token, token_type: "Bearer", expires_at, user}`; user has `permissions`: what its role may do to each layer' },
        400: problemResponse('a malformed body'), 401: problemResponse('wrong username or password, or a disabled account'), 429: problemResponse('too many failed logins'),
      },
    },
  };
  paths['/api/v1/auth/logout'] = { post: { summary: 'Sign out: the token stops working', tags: ['accounts'], responses: { 204: { description: 'signed out' } } } };
  paths['/api/v1/auth/me'] = { get: { summary: 'The signed-in user, with its permissions', tags: ['accounts'], responses: { 200: { description: 'the user' } } } };
  const body = (name: string, type: z.ZodType) => {
    schemas[name] = schema(type);
    return { required: true, content: { 'application/json': { schema: { $ref: `#/components/schemas/${name}` } } } };
  };
  paths['/api/v1/auth/keys'] = {
    get: { summary: 'The caller\'s live read-only access keys (labels and dates, never the keys)', tags: ['accounts'], responses: { 200: { description: '`{keys: [{id, label, created_at, expires_at}]}`' } } },
    post: {
      summary: 'A read-only access key for a GIS client: reads as the caller, refused anything but GET; shown once', tags: ['accounts'],
      requestBody: body('AccessKey', keyBody),
      responses: { 201: { description: '`{id, label, expires_at, token, header}`' }, 400: problemResponse('a wrong field'), 409: problemResponse(`more than ${MAX_KEYS} live keys`) },
    },
  };
  paths['/api/v1/auth/keys/{id}'] = {
    delete: { summary: 'Revoke one of the caller\'s access keys', tags: ['accounts'], parameters: [idParameter], responses: { 204: { description: 'revoked' }, 404: problemResponse('no such live key of the caller\'s') } },
  };
  paths['/api/v1/open311/keys'] = {
    get: { summary: 'The client applications\' Open311 keys: name, services, who issued each, when last used, whether revoked (never the keys)', tags: ['accounts'], responses: { 200: { description: '`{keys: [{id, name, services, created_by, created_at, last_used_at, revoked_at}]}`' } } },
    post: {
      summary: 'An Open311 api_key for a client application, allowed to post these services (issue categories); shown once', tags: ['accounts'],
      requestBody: body('Open311Key', open311KeyBody),
      responses: { 201: { description: '`{id, name, services, created_by, created_at, api_key}`' }, 400: problemResponse('a wrong field, or a service that is no issue category') },
    },
  };
  paths['/api/v1/open311/keys/{id}'] = {
    delete: { summary: 'Revoke an application\'s Open311 key: its posts are refused from now on', tags: ['accounts'], parameters: [idParameter], responses: { 204: { description: 'revoked' }, 404: problemResponse('no such live key') } },
  };
  paths['/api/v1/auth/demo-accounts'] = { get: { summary: 'The demo accounts for the login screen (none unless GRIDMAP_DEMO is on)', tags: ['accounts'], responses: { 200: { description: '`{password, accounts}`' } } } };
  schemas.NewUser = schema(newUserSchema);
  schemas.UserChange = schema(userChangeSchema);
  paths['/api/v1/users'] = {
    get: {
      summary: 'Users, with roles and scopes', tags: ['accounts'],
      parameters: [{ name: 'role', in: 'query', schema: { type: 'string', enum: [...ROLES] } }, { name: 'limit', in: 'query', schema: { type: 'integer' } }, { name: 'after', in: 'query', schema: { type: 'integer' } }],
      responses: { 200: { description: '`{users}`' } },
    },
    post: {
      summary: 'Create a user', tags: ['accounts'], description: 'Every role but admin has one scope: `{"district": "610602"}`, `{"street": "610602001"}`, `{"community": 12}` or `{"grid": 40}`; a grid worker a grid; a volunteer a `member_id`.',
      requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/NewUser' } } } },
      responses: { 201: { description: 'the user' }, 400: problemResponse('a wrong field'), 409: problemResponse('the username is taken'), 422: problemResponse('a scope or member that does not exist') },
    },
  };
  paths['/api/v1/users/{id}'] = {
    get: { summary: 'One user; its version is the ETag', tags: ['accounts'], parameters: [idParameter], responses: { 200: { description: 'the user' }, 404: problemResponse('no such user') } },
    patch: {
      summary: 'Change a user: password, role, scope, name, member, or disable it', tags: ['accounts'], description: 'A new password, role or scope, or disabling, ends the user\'s sessions.',
      parameters: [idParameter, { name: 'If-Match', in: 'header', schema: { type: 'string' } }],
      requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/UserChange' } } } },
      responses: { 200: { description: 'the user' }, 404: problemResponse('no such user'), 409: problemResponse('this would leave no active admin'), 412: problemResponse('changed since the If-Match version') },
    },
  };
  paths['/api/v1/audit'] = {
    get: {
      summary: 'The audit log: every write, newest first, with the row before and after', tags: ['accounts'],
      parameters: ['resource', 'row', 'user', 'from', 'to', 'limit', 'before'].map((name) => ({ name, in: 'query', schema: { type: name === 'row' || name === 'limit' || name === 'before' ? 'integer' : 'string' } })),
      responses: { 200: { description: '`{entries, links}`; follow the `next` link for older entries' } },
    },
  };

  paths['/api/v1/setup'] = {
    get: {
      summary: "A new city's checklist: each layer in the order it is loaded, its count, and what it still lacks", tags: ['accounts'],
      responses: { 200: { description: '`{empty, steps: [{layer, count, gaps: {without_grids: 3, …}}]}`' } },
    },
  };

  schemas.DispatchRequest = schema(dispatchBody);
  schemas.VolunteerChange = schema(selfChange);
  const query = (name: string, type: string, extra: Record<string, unknown> = {}) => ({ name, in: 'query', schema: { type, ...extra } });
  paths['/api/v1/volunteers/nearest'] = {
    get: {
      summary: 'The nearest available volunteers to a point, nearest first', tags: ['dispatch'],
      description: '`distance_m` is geodesic (PostGIS ST_Distance on geography). Only volunteers who are available and hold no offer or dispatch; `skill` may be repeated and every one must match. Contacts as the role allows.',
      parameters: [
        { ...query('lon', 'number', { minimum: -180, maximum: 180 }), required: true, example: 108.94 },
        { ...query('lat', 'number', { minimum: -90, maximum: 90 }), required: true, example: 34.26 },
        query('k', 'integer', { minimum: 1, maximum: MAX_K, default: 5 }),
        query('radius_m', 'number', { exclusiveMinimum: true, minimum: 0, maximum: MAX_RADIUS_M }),
        { ...query('skill', 'array', { items: { type: 'string', enum: [...SKILLS] } }), style: 'form', explode: true },
        query('community', 'integer', { minimum: 1 }),
      ],
      responses: { 200: geojson('FeatureCollection of volunteers with distance_m, skills, availability, grid and community', '#/components/schemas/FeatureCollection'), 400: problemResponse('a parameter out of range') },
    },
  };
  paths['/api/v1/volunteers/me'] = {
    get: { summary: 'The signed-in volunteer: availability, home, current position, open offers and dispatches', tags: ['dispatch'], responses: { 200: { description: 'the volunteer with `dispatches`' } } },
    patch: {
      summary: 'Set own availability (available, off_duty) and current position (null: at home)', tags: ['dispatch'],
      description: 'Going off duty hands back open offers; a volunteer on a dispatch is busy until it finishes or cancels it.',
      requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/VolunteerChange' } } } },
      responses: { 200: { description: 'the volunteer' }, 400: problemResponse('a wrong field'), 409: problemResponse('busy on a dispatch') },
    },
  };
  paths['/api/v1/issues/{id}/dispatch'] = {
    post: {
      summary: 'Offer the issue to the nearest k available volunteers (with the skills asked)', tags: ['dispatch'],
      description: 'A decline or a timeout passes the offer to the next nearest not yet asked; the first to accept is assigned and the other offers are withdrawn.',
      parameters: [idParameter],
      requestBody: { content: { 'application/json': { schema: { $ref: '#/components/schemas/DispatchRequest' } } } },
      responses: { 201: { description: 'the request with its offers' }, 400: problemResponse('a wrong field'), 404: problemResponse('no such issue'), 409: problemResponse('the issue is settled or already dispatched') },
    },
    delete: { summary: 'End the issue\'s dispatch request: offers withdrawn, an assignment cancelled', tags: ['dispatch'], parameters: [idParameter], responses: { 204: { description: 'ended' }, 404: problemResponse('no request at work') } },
  };
  paths['/api/v1/issues/{id}/dispatches'] = {
    get: { summary: 'The issue\'s dispatch requests, offers and every step (who, when, distance)', tags: ['dispatch'], parameters: [idParameter], responses: { 200: { description: '`{issue_id, requests: [{…, dispatches: [{…, steps}]}]}`' }, 404: problemResponse('no such issue') } },
  };
  paths['/api/v1/dispatches'] = {
    get: { summary: 'Dispatches in scope (a volunteer\'s own), open ones unless all=true', tags: ['dispatch'], parameters: [query('all', 'boolean'), query('limit', 'integer', { minimum: 1, maximum: 5000 })], responses: { 200: { description: '`{dispatches}`' } } },
  };
  paths['/api/v1/dispatches/{id}/{action}'] = {
    post: {
      summary: 'Answer or follow a dispatch: accept, decline, arrive, finish, cancel', tags: ['dispatch'],
      description: 'The volunteer asked, or a dispatcher recording its answer. Cancel (after accepting) passes the issue to the next nearest.',
      parameters: [idParameter, { name: 'action', in: 'path', required: true, schema: { type: 'string', enum: [...DISPATCH_ACTIONS] } }],
      responses: { 200: { description: 'the dispatch with its steps' }, 404: problemResponse('no such dispatch'), 409: problemResponse('not possible from its state, or the offer expired') },
    },
  };
  paths['/api/v1/events'] = {
    get: {
      summary: 'Server-sent events: issue, dispatch and grid changes in the caller\'s scope', tags: ['dispatch'],
      description: 'Events `issue`, `dispatch` and `grid` (a grid took a new version: `{grid_id, community_id, version, change}`) with ids in commit order; reconnect with `Last-Event-ID` (or `?after=`) to receive what was missed. The first event, `ready`, gives the id the stream starts after.',
      parameters: [{ name: 'Last-Event-ID', in: 'header', schema: { type: 'string' } }, query('after', 'integer')],
      responses: { 200: { description: 'an event stream', content: { 'text/event-stream': { schema: { type: 'string' } } } } },
    },
  };

  // The problem walls and the echo wall
  const tags = ['problem wall'];
  const timeline = { description: '`{issue_id, status, wall, version, due_at, overdue, duplicate_of, actions, steps, extensions}`: `actions` are the steps the caller may take now' };
  const streetCode = { name: 'code', in: 'path', required: true, schema: { type: 'string', pattern: '^[0-9]{9}$' }, example: '610602001' };
  paths['/api/v1/issue-categories'] = {
    get: { summary: 'Issue categories with their urgency and due time in hours', tags, responses: { 200: { description: '`{categories}`' } } },
    post: { summary: 'Add a category', tags, requestBody: body('NewIssueCategory', categoryBody), responses: { 201: { description: 'the category' }, 400: problemResponse('a wrong field'), 409: problemResponse('the code is taken') } },
  };
  paths['/api/v1/issue-categories/{code}'] = {
    patch: {
      summary: 'Change a category\'s name, urgency or due time (new issues take it)', tags,
      parameters: [{ name: 'code', in: 'path', required: true, schema: { type: 'string' } }],
      requestBody: body('IssueCategoryChange', categoryPatch), responses: { 200: { description: 'the category' }, 400: problemResponse('a wrong field'), 404: problemResponse('no such category') },
    },
  };
  paths['/api/v1/issues/{id}/transitions'] = {
    post: {
      summary: 'One step of the issue\'s life: accept, start, resolve, escalate, reject, answer, rate, close', tags,
      description: `States: ${ISSUE_STATUSES.join(', ')}. Escalating moves the issue a wall up (grid → community → street); a rating of 1 or 2 reopens it (rework). Staff act on their wall and the walls below it; the reporter rates.`,
      parameters: [idParameter, { name: 'If-Match', in: 'header', schema: { type: 'string' } }],
      requestBody: body('IssueTransition', transitionBody),
      responses: { 200: timeline, 400: problemResponse('a wrong field'), 404: problemResponse('no such issue'), 409: problemResponse('not a step from the issue\'s state'), 412: problemResponse('changed since the If-Match version'), 422: problemResponse('an unknown duplicate_of') },
    },
  };
  paths['/api/v1/issues/{id}/timeline'] = { get: { summary: 'Every step of the issue (who, when, from, to, note), its extensions, and what the caller may do', tags, parameters: [idParameter], responses: { 200: timeline, 404: problemResponse('no such issue') } } };
  paths['/api/v1/issues/{id}/extensions'] = {
    post: { summary: 'Ask for more time; the wall above decides', tags, parameters: [idParameter], requestBody: body('ExtensionRequest', extensionBody), responses: { 201: timeline, 409: problemResponse('one is pending, or the issue is resolved') } },
  };
  paths['/api/v1/issues/{id}/extensions/{extension}'] = {
    patch: {
      summary: 'Approve (the due time moves) or refuse an extension', tags,
      parameters: [idParameter, { name: 'extension', in: 'path', required: true, schema: { type: 'integer', minimum: 1 } }],
      requestBody: body('ExtensionDecision', decisionBody), responses: { 200: timeline, 404: problemResponse('no such extension'), 409: problemResponse('already decided') },
    },
  };
  const duplicates = { description: '`{issues}`: open issues of the category within 50 m and 7 days, nearest first, with distance_m' };
  paths['/api/v1/issues/possible-duplicates'] = {
    get: {
      summary: 'Before reporting: is it one of these?', tags,
      parameters: [{ ...query('lon', 'number'), required: true, example: 109.49 }, { ...query('lat', 'number'), required: true, example: 36.59 }, { ...query('category', 'string'), required: true, example: 'noise' }],
      responses: { 200: duplicates, 400: problemResponse('a parameter out of range') },
    },
  };
  paths['/api/v1/issues/{id}/possible-duplicates'] = { get: { summary: 'Issues the issue may repeat', tags, parameters: [idParameter], responses: { 200: duplicates } } };
  paths['/api/v1/issues/{id}/photos'] = {
    get: { summary: 'The issue\'s photos: of the problem (report) and of the work done (answer)', tags, parameters: [idParameter], responses: { 200: { description: '`{photos: [{id, kind, content_type, byte_size, url}]}`' } } },
    post: {
      summary: `Add a photo (JPEG, PNG or WebP, at most ${MAX_PHOTO_BYTES / 1024 / 1024} MB, ${MAX_PHOTOS} of each kind)`, tags,
      parameters: [idParameter, query('kind', 'string', { enum: ['report', 'answer'], default: 'report' })],
      requestBody: { required: true, content: Object.fromEntries(['image/jpeg', 'image/png', 'image/webp'].map((type) => [type, { schema: { type: 'string', format: 'binary' } }])) },
      responses: { 201: { description: 'the photo' }, 409: problemResponse('five of the kind already'), 413: problemResponse('too large'), 415: problemResponse('not a picture of the declared type') },
    },
  };
  paths['/api/v1/issues/{id}/photos/{photo}'] = {
    get: { summary: 'A photo\'s bytes', tags, parameters: [idParameter, { name: 'photo', in: 'path', required: true, schema: { type: 'integer', minimum: 1 } }], responses: { 200: { description: 'the image' }, 304: { description: 'not modified' }, 404: problemResponse('no such photo') } },
    delete: { summary: 'Remove a photo (whoever added it, or the wall\'s staff)', tags, parameters: [idParameter, { name: 'photo', in: 'path', required: true, schema: { type: 'integer', minimum: 1 } }], responses: { 204: { description: 'removed' } } },
  };
  const wall = { description: 'FeatureCollection of the issues on the wall, oldest due first, with `wall`, `total` and `overdue`', content: { 'application/geo+json': { schema: { $ref: '#/components/schemas/FeatureCollection' } } } };
  const wallLimit = query('limit', 'integer', { minimum: 1, maximum: 5000, default: 500 });
  paths['/api/v1/walls/grid/{id}'] = { get: { summary: 'A grid\'s wall (子墙)', tags, parameters: [idParameter, wallLimit], responses: { 200: wall, 404: problemResponse('no such grid') } } };
  paths['/api/v1/walls/community/{id}'] = { get: { summary: 'A community\'s wall (母墙)', tags, parameters: [idParameter, wallLimit], responses: { 200: wall, 404: problemResponse('no such community') } } };
  paths['/api/v1/walls/street/{code}'] = { get: { summary: 'A street\'s wall: escalated issues and those outside every community', tags, parameters: [streetCode, wallLimit], responses: { 200: wall, 404: problemResponse('no such street') } } };
  paths['/api/v1/echo'] = {
    get: {
      summary: 'The echo wall (回音壁): answered issues with their answers and ratings, newest first, without personal data', tags,
      parameters: [query('community', 'integer'), query('grid', 'integer'), query('street', 'string'), query('category', 'string'), query('limit', 'integer', { minimum: 1, maximum: 500, default: 50 }), query('offset', 'integer', { minimum: 0 })],
      responses: { 200: { description: '`{total, issues}`' } },
    },
  };
  paths['/api/v1/issues/metrics'] = {
    get: {
      summary: 'Measures of the walls per grid or community over the issues reported in [from, to)', tags,
      description: 'reported, closed, rejected, open, overdue, closure_rate (closed / not rejected), on_time_rate (resolved by the due time / resolved or past due), rework_rate, extension_rate, median and 90th-percentile hours to close, mean rating. Duplicates count once. The last 30 days unless said.',
      parameters: [query('by', 'string', { enum: ['grid', 'community'], default: 'community' }), query('from', 'string', { format: 'date-time' }), query('to', 'string', { format: 'date-time' }),
        query('community', 'integer', { minimum: 1 }), query('street', 'string', { pattern: '^[0-9]{9}$' })],
      responses: { 200: { description: '`{by, from, to, areas, total}`' }, 400: problemResponse('a bad parameter') },
    },
  };
  paths['/api/v1/communities/{id}/monthly'] = { get: { summary: 'One matter a month (一月一事一议一公开): published ones, and drafts for the community\'s staff', tags, parameters: [idParameter], responses: { 200: { description: '`{community_id, matters}`' } } } };
  paths['/api/v1/communities/{id}/monthly/{month}'] = {
    put: {
      summary: 'Record the month\'s matter, its discussion and outcome; publish it', tags,
      parameters: [idParameter, { name: 'month', in: 'path', required: true, schema: { type: 'string', pattern: '^[0-9]{4}-[0-9]{2}$' }, example: '2026-11' }],
      requestBody: body('MonthlyMatter', monthlyBody), responses: { 200: { description: 'changed' }, 201: { description: 'recorded' }, 400: problemResponse('a wrong field') },
    },
  };

  // Grid planning: every change answers its impact, tried in a transaction and kept (a save) or rolled back (a dry run)
  const planningTags = ['planning'];
  const impact = {
    description: 'The impact report: `{dryRun, saved, change: {id, kind, note, at} | null, community: {id, code, name, band: {min, max}}, '
      + 'grids: [{id, code, name, status: created|removed|changed|unchanged, version, geometry, area_m2: {before, after}, before, after}] (before/after: '
      + '{households, residents, members, volunteers, open_issues, band: below|within|above}), moved: {buildings, members, issues: [{id, from, to}]} '
      + '(grid ids, null for none; open issues only), accounts: [{id, username, from, to}] (grid workers of removed grids), '
      + 'overlaps: [{grids, codes, area_m2, geometry}], uncovered: [{area_m2, new, geometry}], refusals: [{title, detail, field}], saveable}`',
    content: { 'application/json': { schema: { type: 'object' } } },
  };
  const ifMatch = { name: 'If-Match', in: 'header', schema: { type: 'string' }, description: 'the grid\'s ETag; required to save (428 without it, 412 when stale)' };
  const rules = `Refused (422, with every reason in \`refusals\`; a dry run lists them and answers 200): invalid shapes, grids outside their community, overlaps (without adjustNeighbours), grids falling into parts, grids surrounding others (holes), slivers under ${MIN_GRID_AREA_M2} m². Send \`versions\` (the other grids as a dry run showed them) to refuse a save over their changes (412).`;
  const planning = (summary: string, name: keyof typeof planningBodies, extra: Record<string, unknown> = {}) => ({
    post: {
      summary, tags: planningTags, description: rules, ...extra,
      requestBody: body(pascal(name.replace(/Body$/, '_change')), planningBodies[name]),
      responses: {
        200: impact, 201: { description: 'saved, creating grids (Location: the first)' }, 400: problemResponse('a wrong field'), 403: problemResponse('outside the planner\'s scope'),
        404: problemResponse('no such grid or community'), 412: problemResponse('a grid changed since the version edited'), 422: problemResponse('a refused change'), 428: problemResponse('saving without If-Match'),
      },
    },
  });
  paths['/api/v1/grids/{id}/redraw'] = planning('Redraw a grid; adjustNeighbours moves the shared boundaries', 'redrawBody', { parameters: [idParameter, ifMatch] });
  paths['/api/v1/grids/{id}/split'] = planning('Split a grid along a line: the larger part keeps it, the others are new grids with the next codes', 'splitBody', { parameters: [idParameter, ifMatch] });
  paths['/api/v1/grids/merge'] = planning('Merge adjacent grids into the first; grid workers of the others move to it', 'mergeBody');
  paths['/api/v1/grids/{id}/revert'] = planning('Restore the boundary a grid had at an earlier version', 'revertBody', { parameters: [idParameter, ifMatch] });
  paths['/api/v1/communities/{id}/plan'] = planning('Set many boundaries at once (a suggested draft): listed grids get their geometry, null removes, no id creates', 'planBody', { parameters: [idParameter] });
  paths['/api/v1/communities/{id}/grids'] = {
    get: {
      summary: 'The community\'s grids as they stood at a time (now without `at`)', tags: planningTags,
      parameters: [{ ...idParameter, example: 1 }, query('at', 'string', { description: 'a date-time, or a date (the end of that day, UTC)' })],
      responses: { 200: geojson('the grids then: id, code, name, version, since', '#/components/schemas/FeatureCollection'), 400: problemResponse('a bad time'), 404: problemResponse('no such community') },
    },
    ...planning('Draw a new grid in the community, carved out of the grids it covers', 'createBody', { parameters: [idParameter] }),
  };
  paths['/api/v1/grids/{id}/history'] = {
    get: {
      summary: 'Every saved change of the grid, newest first: version, who, when, kind, note, geometry before and after, impact', tags: planningTags,
      parameters: [idParameter], responses: { 200: { description: '`{grid, versions}`' }, 404: problemResponse('no such grid') },
    },
  };
  paths['/api/v1/communities/{id}/suggest-grids'] = {
    post: {
      summary: 'Suggest `count` contiguous, compact grids with households as even as possible: a draft, never saved', tags: planningTags,
      parameters: [idParameter], requestBody: body('SuggestGrids', planningBodies.suggestBody),
      responses: {
        200: { description: '`{draft: FeatureCollection (grid_id, version, code, name, households, buildings), households: {mean, min, max, max_deviation_pct}, elapsed_ms, impact}`' },
        400: problemResponse('a wrong count'), 403: problemResponse('outside the planner\'s scope'), 404: problemResponse('no such community'), 422: problemResponse('a community in several parts'),
      },
    },
  };
  const tileLayerParameter = { name: 'layer', in: 'path', required: true, schema: { type: 'string', enum: TILE_LAYERS.map((l) => l.name) }, example: 'communities' };
  const tileIndex = (name: string, example: number) => ({ name, in: 'path', required: true, schema: { type: 'integer', minimum: 0 }, example });
  const accessKeyParameter = { name: 'access_key', in: 'query', schema: { type: 'string' }, description: 'a read-only access key, for a GIS client that can send no Authorization header (TileJSON\'s tile URLs then carry it); never logged' };
  paths['/tiles/{layer}.json'] = {
    get: { summary: 'TileJSON 3.0 of a tile layer: tile URLs, zoom range, bounds, fields', tags: ['tiles'], parameters: [tileLayerParameter, accessKeyParameter], responses: { 200: { description: 'TileJSON' }, 404: problemResponse('no such layer') } },
  };
  paths['/tiles/{layer}/{z}/{x}/{y}.mvt'] = {
    get: {
      summary: 'A Mapbox vector tile of a layer', tags: ['tiles'],
      description: 'grids carry the coverage metrics; districts, streets, communities and grids also a second vector layer, `<layer>_label`, one point per area where its name is written; members and volunteers are counts in hexagons at every zoom, never a home. ETag and If-None-Match (304); 204 for an empty tile or one below the layer\'s minzoom.',
      parameters: [tileLayerParameter, tileIndex('z', 8), tileIndex('x', 205), tileIndex('y', 99), accessKeyParameter],
      responses: {
        200: { description: 'the tile', content: { 'application/vnd.mapbox-vector-tile': { schema: { type: 'string', format: 'binary' } } } },
        204: { description: 'nothing in the tile' }, 304: { description: 'the client\'s copy is current' },
        400: problemResponse('z, x or y out of range'), 404: problemResponse('no such layer'),
      },
    },
  };

  // Who may call each operation, from the access rules the server enforces.
  for (const [path, operations] of Object.entries(paths) as [string, Record<string, { description?: string; security?: unknown[]; responses: Record<string, unknown> }>][]) {
    for (const [method, operation] of Object.entries(operations)) {
      const rule = ruleFor(method.toUpperCase(), path.replace(/\{(\w+)\}/g, ':$1'));
      if (!rule || 'public' in rule.allow) {
        operation.security = [];
        continue;
      }
      const roles = rolesOf(rule, path);
      operation.description = [operation.description, `Roles: ${roles}.`].filter(Boolean).join(' ');
      operation.responses[401] = problemResponse('no valid bearer token');
      operation.responses[403] = problemResponse('the role may not, or the row lies outside the user\'s scope');
    }
  }

  return {
    openapi: '3.0.3',
    info: {
      title: 'Gridmap API',
      version: '1',
      description: 'Districts, streets, communities, grids, buildings, Party members, resident units and issues on the map. Geometry is RFC 7946 GeoJSON in WGS 84; errors are RFC 9457 problem details.',
    },
    paths,
    security: [{ bearer: [] }, { basic: [] }],
    components: {
      schemas,
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'the token from POST /api/v1/auth/login, or a read-only access key' },
        basic: { type: 'http', scheme: 'basic', description: 'a read-only access key (POST /api/v1/auth/keys) as the password, any user name: for GIS clients that cannot send a bearer token' },
      },
    },
  };
}

const ruleFor = (method: string, path: string) => ACCESS_RULES.find((rule) => rule.method === method && rule.path === path);

/** The roles a rule lets through, in words: a fixed list, any user, or what the policy allows on a layer. */
function rolesOf({ allow }: AccessRule, path: string): string {
  if ('public' in allow) return 'anyone';
  if (!('resource' in allow)) return allow.roles === 'any' ? 'any signed-in user' : allow.roles.join(', ');
  const layers: ResourceName[] = allow.resource === ':layer' ? MAP_RESOURCES : [allow.resource];
  const allowed = (role: (typeof ROLES)[number], layer: ResourceName) =>
    (!allow.roles || allow.roles.includes(role)) && (allow.action === 'read' ? mayRead(layer, role) : mayWrite(layer, role, allow.action));
  const perLayer = layers.map((layer) => `${path.includes('{layer}') ? `${layer}: ` : ''}${ROLES.filter((role) => allowed(role, layer)).join(', ')}`);
  return `${perLayer.join('; ')} (rows in the user's scope; personal data masked for roles that may not see it)`;
}
