import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import type { z } from 'zod';
import type { Config } from '../config.ts';
import type { Database } from '../db/database.ts';
import { accountRoutes, type DemoAccounts } from '../features/accounts/routes.ts';
import { auditRoutes } from '../features/audit/routes.ts';
import { coverageRoutes } from '../features/coverage/routes.ts';
import { issueRoutes } from '../features/issues/routes.ts';
import { wallRoutes } from '../features/walls/routes.ts';
import { dispatchRoutes } from '../features/dispatch/routes.ts';
import { tileRoutes } from '../features/tiles/routes.ts';
import { volunteerRoutes } from '../features/volunteers/routes.ts';
import { eventRoutes } from '../features/events/routes.ts';
import { planningRoutes } from '../features/planning/routes.ts';
import { healthRoutes } from '../features/health/routes.ts';
import { mapRoutes } from '../features/map/routes.ts';
import { setupRoutes } from '../features/setup/routes.ts';
import { ogcRoutes } from '../features/ogc/routes.ts';
import { open311KeyRoutes, open311Routes } from '../features/open311/routes.ts';
import { communityRoutes } from '../features/communities/routes.ts';
import { exportRoutes } from '../features/export/routes.ts';
import { gridRoutes } from '../features/grids/routes.ts';
import { importJobRoutes, importRoutes } from '../features/import/routes.ts';
import { districts, streets } from '../features/areas/resource.ts';
import { buildings } from '../features/buildings/resource.ts';
import { issues } from '../features/issues/resource.ts';
import { members } from '../features/members/resource.ts';
import { units } from '../features/units/resource.ts';
import { openApiDocument } from './openapi.ts';
import { RESOURCES } from '../features/resources.ts';
import { featureResource } from './feature-resource.ts';
import { route, type AnyRoute, type RawBody } from './route.ts';

const SWAGGER_UI = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

const DOCS_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Gridmap API</title>
<link rel="stylesheet" href="/api/v1/docs/assets/swagger-ui.css"><link rel="icon" href="data:,"></head>
<body><div id="docs"></div>
<script src="/api/v1/docs/assets/swagger-ui-bundle.js"></script>
<script src="/api/v1/docs/init.js"></script>
</body></html>`;

// ?spec=ogc: the OGC API – Features definition (/ogc/api), which sends browsers here
const DOCS_INIT = `SwaggerUIBundle({
  url: new URLSearchParams(location.search).get('spec') === 'ogc' ? '/ogc/api' : '/api/v1/openapi.json',
  dom_id: '#docs', deepLinking: true, persistAuthorization: true });`;

const documentation = { public: 'the API description holds no data' };

/** The API description, read from the table it describes, and a page that reads it (Swagger UI, from the package: no internet). */
const docsRoutes = (routes: readonly AnyRoute[]) => {
  let document: string | undefined;
  return [
    route({
      method: 'GET',
      path: '/api/v1/openapi.json',
      tags: ['service'],
      summary: 'This description of the API (OpenAPI 3.0)',
      allow: documentation,
      answer: { description: 'the OpenAPI document' },
      handle: ({ res }) => void res.type('application/json').send((document ??= JSON.stringify(openApiDocument(routes)))),
    }),
    route({
      method: 'GET',
      path: '/api/v1/docs',
      tags: ['service'],
      summary: 'A page to read and try the API',
      allow: documentation,
      undocumented: true,
      answer: { type: 'text/html', description: 'Swagger UI' },
      handle: ({ res }) => void res.type('html').send(DOCS_PAGE),
    }),
    // a file, not an inline script, so the content security policy can forbid inline scripts
    route({
      method: 'GET',
      path: '/api/v1/docs/init.js',
      tags: ['service'],
      summary: "The docs page's script",
      allow: documentation,
      undocumented: true,
      answer: { type: 'text/javascript', description: 'a script' },
      handle: ({ res }) => void res.type('text/javascript').send(DOCS_INIT),
    }),
    route({
      method: 'GET',
      path: '/api/v1/docs/assets/*asset',
      tags: ['service'],
      summary: "Swagger UI's files",
      allow: documentation,
      undocumented: true,
      answer: { description: 'a file of Swagger UI' },
      // sendFile's root keeps the path inside the package
      handle: ({ req, res, next }) =>
        res.sendFile(
          (req.params.asset as unknown as string[]).join('/'),
          { root: SWAGGER_UI, maxAge: '1d' },
          (error) => error && next(error),
        ),
    }),
  ];
};

/**
 * The API's route table, in the order requests are matched against it (a fixed path before a pattern that would
 * take it: /grids/unassigned before /grids/:id). The app mounts it, the guard reads its rules, the OpenAPI document
 * describes it and the web client takes its types from it. `demo`: the demo city's accounts, for the login screen.
 */
export function apiRoutes(database: Database, config: Config, demo?: DemoAccounts) {
  const routes = [
    ...healthRoutes(database),
    ...coverageRoutes(database),
    // accounts, access keys, users, the audit log, a new city's checklist, the map's settings, Open311 keys
    ...accountRoutes(database, config, demo),
    ...auditRoutes(database),
    ...setupRoutes(database),
    ...mapRoutes(config),
    ...open311KeyRoutes(database),

    // planning: grid changes and history
    ...planningRoutes(database),
    // the event stream: no other path is like it
    ...eventRoutes(database),

    // the problem walls: categories, /issues/metrics and duplicates before /issues/:id, photos, walls, echo, monthly
    ...issueRoutes(database),
    ...wallRoutes(database),

    // dispatching: volunteers and dispatches; the vector tiles
    ...volunteerRoutes(database),
    ...dispatchRoutes(database, config),
    ...tileRoutes(database),

    // the map resources' REST routes (/grids/unassigned before /grids/:id), export, import and import jobs
    ...gridRoutes(database),
    ...communityRoutes(database),
    ...featureResource(database, districts),
    ...featureResource(database, streets),
    ...featureResource(database, buildings),
    ...featureResource(database, members),
    ...featureResource(database, units),
    ...featureResource(database, issues),
    ...exportRoutes(database, RESOURCES),
    ...importRoutes(database, RESOURCES),
    ...importJobRoutes(database),

    // OGC API – Features and Open311: not in this API's description, each standard publishes its own
    ...ogcRoutes(database),
    ...open311Routes(database, config),
  ];
  return [...routes, ...docsRoutes(routes)];
}

type Routes = ReturnType<typeof apiRoutes>[number];
/** The routes by `METHOD /path` (the express pattern), for the web client. */
export type ApiRoute<K extends `${Routes['method']} ${Routes['path']}`> = Extract<
  Routes,
  { method: K extends `${infer M} ${string}` ? M : never; path: K extends `${string} ${infer P}` ? P : never }
>;
/** What a route answers (its answer schema's output), e.g. `ApiAnswer<'GET /api/v1/coverage/grids'>`. */
export type ApiAnswer<K extends `${Routes['method']} ${Routes['path']}`> =
  NonNullable<ApiRoute<K>['answer']['schema']> extends infer S extends z.ZodType ? z.output<S> : never;
/** What a route takes as its JSON body (its body schema's input). */
export type ApiBody<K extends `${Routes['method']} ${Routes['path']}`> =
  NonNullable<ApiRoute<K>['body']> extends infer B ? (B extends RawBody ? never : B extends z.ZodType ? z.input<B> : never) : never;
