import { z } from 'zod';
import { mayRead, mayWrite, type ResourceName } from '../access/policy.ts';
import { MAP_RESOURCES, type Allow } from '../access/rules.ts';
import { ROLES } from '../access/viewer.ts';
import { ERROR_CODES } from '../domain/errors.ts';
import type { ParameterDoc } from '../domain/params.ts';
import type { AnyRoute, Parameters } from './route.ts';

/**
 * JSON Schema for OpenAPI 3.0 from a zod schema, drawn as zod checks it (output: a pipe draws what it checks, a
 * geometry's shape). A request is then said as it may be sent: a property with a default may be left out, and an
 * object that is not strict takes other properties (and drops them); an answer as it is sent.
 */
export const jsonSchema = (type: z.ZodType, side: 'request' | 'answer' = 'request') =>
  z.toJSONSchema(type, {
    target: 'openapi-3.0',
    io: 'output',
    unrepresentable: 'any',
    override: ({ zodSchema, jsonSchema: out }) => {
      const def = zodSchema._zod.def;
      // OpenAPI 3.0 reads nullable only beside a type: a nullable union (a street's geometry) says it of each member
      if (out.nullable && !out.type && out.anyOf) {
        for (const member of out.anyOf) member.nullable = true;
        delete out.nullable;
      }
      if (def.type !== 'object') return;
      if (!def.catchall) delete out.additionalProperties;
      if (side === 'answer') return;
      const required = out.required?.filter((key) => def.shape[key]._zod.optin === undefined);
      if (required?.length) out.required = required;
      else delete out.required;
    },
  });

export const problemResponse = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
});

const PROBLEM = {
  type: 'object',
  description:
    'RFC 9457 problem details; `field` names the part of the request that was wrong; `code` says what went wrong in a ' +
    'stable word a client translates, with `params` the values its sentence names (`detail` is English)',
  required: ['type', 'title', 'status', 'code', 'params'],
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    instance: { type: 'string' },
    field: { type: 'string' },
    code: { type: 'string', enum: ERROR_CODES },
    params: { type: 'object', description: 'strings, numbers, booleans or null, by name' },
    errors: { type: 'array', items: { type: 'object', properties: { field: { type: 'string' }, message: { type: 'string' } } } },
  },
};

/** The roles a rule lets through, in words: a fixed list, any user, or what the policy allows on a layer. */
export function rolesOf(allow: Allow, path: string): string {
  if ('public' in allow) return 'anyone';
  if (!('resource' in allow)) return allow.roles === 'any' ? 'any signed-in user' : allow.roles.join(', ');
  const layers: ResourceName[] = allow.resource === ':layer' ? MAP_RESOURCES : [allow.resource];
  const allowed = (role: (typeof ROLES)[number], layer: ResourceName) =>
    (!allow.roles || allow.roles.includes(role)) && (allow.action === 'read' ? mayRead(layer, role) : mayWrite(layer, role, allow.action));
  const perLayer = layers.map(
    (layer) => `${path.includes(':layer') ? `${layer}: ` : ''}${ROLES.filter((role) => allowed(role, layer)).join(', ')}`,
  );
  return `${perLayer.join('; ')} (rows in the user's scope; personal data masked for roles that may not see it)`;
}

/** An express pattern as an OpenAPI path: /tiles/:layer/:z/:x/:y.mvt → /tiles/{layer}/{z}/{x}/{y}.mvt */
export const openApiPath = (path: string) => path.replace(/:(\w+)/g, '{$1}');

/**
 * The OpenAPI 3.0 document of a route table: each route's parameters, body, answer and problems, and who may call
 * it, read from its declaration. Schemas with an `id` in their zod metadata are shared components.
 */
export function openApiDocument(routes: readonly AnyRoute[]) {
  const schemas: Record<string, unknown> = { Problem: PROBLEM };
  const paths: Record<string, Record<string, unknown>> = {};
  /** a schema, or a reference to it among the components when it has an id */
  const schemaOf = (type: z.ZodType, side: 'request' | 'answer') => {
    // zod draws the schemas with ids as definitions beside the one asked for: they are the document's components
    const {
      $schema: _,
      definitions,
      ...drawn
    } = JSON.parse(JSON.stringify(jsonSchema(type, side)).replaceAll('#/definitions/', '#/components/schemas/'));
    Object.assign(schemas, definitions);
    return drawn;
  };
  const parameters = (declared: Parameters | undefined, where: 'path' | 'query' | 'header') =>
    Object.entries(declared ?? {}).map(([name, type]) => {
      const doc = (type.meta() as { parameter?: ParameterDoc } | undefined)?.parameter;
      const schema = doc?.schema ?? schemaOf(type, 'request');
      return {
        name,
        in: where,
        ...(where === 'path' || doc?.required ? { required: true } : {}),
        ...(doc?.description ? { description: doc.description } : {}),
        schema,
        ...(doc?.example !== undefined ? { example: doc.example } : {}),
        ...(doc?.explode ? { style: 'form', explode: true } : {}),
      };
    });

  for (const route of routes) {
    if (route.undocumented) continue;
    const { answer, body, allow } = route;
    const responses: Record<string, unknown> = {
      [answer.status ?? 200]: {
        description: answer.description,
        ...(answer.schema || answer.type
          ? {
              content: {
                [answer.type ?? 'application/json']: { schema: answer.schema ? schemaOf(answer.schema, 'answer') : { type: 'object' } },
              },
            }
          : {}),
      },
    };
    for (const [status, description] of Object.entries(route.problems ?? {})) {
      responses[status] = Number(status) >= 400 ? problemResponse(description) : { description };
    }
    const isPublic = 'public' in allow;
    if (!isPublic) {
      responses[401] ??= problemResponse('no valid bearer token');
      responses[403] ??= problemResponse("the role may not, or the row lies outside the user's scope");
    }
    const operation = {
      summary: route.summary,
      tags: route.tags,
      ...(route.description || !isPublic
        ? { description: [route.description, isPublic ? '' : `Roles: ${rolesOf(allow, route.path)}.`].filter(Boolean).join(' ') }
        : {}),
      parameters: [...parameters(route.params, 'path'), ...parameters(route.query, 'query'), ...parameters(route.headers, 'header')],
      ...(body
        ? {
            requestBody:
              'raw' in body
                ? {
                    required: body.required ?? true,
                    content: Object.fromEntries(Object.entries(body.raw).map(([type, schema]) => [type, { schema }])),
                  }
                : // an optional body is drawn as what it is when sent
                  {
                    required: !body.safeParse(undefined).success,
                    content: {
                      'application/json': {
                        schema: schemaOf(body instanceof z.ZodOptional ? (body.unwrap() as z.ZodType) : body, 'request'),
                      },
                    },
                  },
          }
        : {}),
      responses,
      ...(isPublic ? { security: [] } : {}),
    };
    (paths[openApiPath(route.path)] ??= {})[route.method.toLowerCase()] = operation;
  }

  return {
    openapi: '3.0.3',
    info: {
      title: 'Gridmap API',
      version: '1',
      description:
        'Districts, streets, communities, grids, buildings, Party members, resident units and issues on the map. Geometry is RFC 7946 GeoJSON in WGS 84; errors are RFC 9457 problem details.',
    },
    paths,
    security: [{ bearer: [] }, { basic: [] }],
    components: {
      schemas,
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'the token from POST /api/v1/auth/login, or a read-only access key' },
        basic: {
          type: 'http',
          scheme: 'basic',
          description:
            'a read-only access key (POST /api/v1/auth/keys) as the password, any user name: for GIS clients that cannot send a bearer token',
        },
      },
    },
  };
}
