import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import express, { Router } from 'express';
import type { ResourceDefinition } from '../../access/resource.ts';
import { openApiDocument } from './document.ts';

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

/** The OpenAPI document, and a page that reads it (Swagger UI, served from the package: no internet). */
export function openApiRoutes(resources: ResourceDefinition[]) {
  const document = JSON.stringify(openApiDocument(resources));
  return Router()
    .get('/api/v1/openapi.json', (_req, res) => res.type('application/json').send(document))
    .get('/api/v1/docs', (_req, res) => res.type('html').send(DOCS_PAGE))
    // a file, not an inline script, so the content security policy can forbid inline scripts
    .get('/api/v1/docs/init.js', (_req, res) => res.type('text/javascript').send(DOCS_INIT))
    .use('/api/v1/docs/assets', express.static(SWAGGER_UI, { maxAge: '1d', index: false }));
}
