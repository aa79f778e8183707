// The OpenAPI 3.1 document, made from the contract with zod's own JSON Schema output: inputs as
// the client writes them (`io: 'input'`), responses as the server sends them (`io: 'output'`),
// named representations (`.meta({ id })`) as components. Served at /api/v1/openapi.json.
import { z } from 'zod';
import { errorSchema, operations, type Operation } from './contract.ts';
import { statusOf } from './errors.ts';

type Json = Record<string, unknown>;

/** JSON Schema of one zod schema, with `$ref`s into components.schemas for named parts. */
function schemaOf(schema: z.ZodType, io: 'input' | 'output', components: Record<string, Json>): Json {
  const raw = z.toJSONSchema(schema, { io, target: 'draft-2020-12', unrepresentable: 'any', reused: 'inline' });
  // Named parts come as `$defs` referenced by `#/$defs/<id>`: in the document they are components.
  const json = JSON.parse(JSON.stringify(raw).replaceAll('"#/$defs/', '"#/components/schemas/')) as Json & { $defs?: Record<string, Json> };
  for (const [id, def] of Object.entries(json.$defs ?? {})) components[id] ??= def;
  delete json.$defs;
  delete json.$schema;
  // A named schema at the top level becomes a reference to its component.
  const id = typeof json.id === 'string' ? json.id : undefined;
  if (id) {
    delete json.id;
    components[id] ??= json;
    return { $ref: `#/components/schemas/${id}` };
  }
  return json;
}

function parametersOf(op: Operation, components: Record<string, Json>): Json[] {
  const parameters: Json[] = [];
  for (const [where, schema] of [['path', op.params], ['query', op.query]] as const) {
    if (!schema) continue;
    const json = schemaOf(schema, 'input', components) as { properties?: Record<string, Json>; required?: string[] };
    for (const [name, property] of Object.entries(json.properties ?? {})) {
      const required = where === 'path' || (json.required ?? []).includes(name);
      parameters.push({ name, in: where, required, ...(typeof property.description === 'string' ? { description: property.description } : {}), schema: property });
    }
  }
  return parameters;
}

const errorRef = { $ref: '#/components/responses/Error' };

export function buildOpenApiDocument(options: { serverUrl: string }): Json {
  const components: Record<string, Json> = {};
  const paths: Record<string, Record<string, Json>> = {};
  for (const [id, op] of Object.entries(operations) as [string, Operation][]) {
    const responses: Record<string, Json> = {};
    const etagHeader = { ETag: { description: 'The pin\'s version: send it back in `If-Match`.', schema: { type: 'string' } } };
    responses[String(op.status)] = op.response
      ? { description: op.summary, ...(op.etag ? { headers: etagHeader } : {}), content: { 'application/json': { schema: schemaOf(op.response, 'output', components) } } }
      : { description: 'Done; no body.' };
    for (const status of [400, 401, 403, 404, ...(op.body ? [413, 415] : []), ...(op.etag && op.method !== 'GET' ? [412] : []), ...(op.method !== 'GET' ? [409] : []), 500, 503]) responses[String(status)] = errorRef;
    const parameters = parametersOf(op, components);
    if (op.etag && op.method !== 'GET' && op.method !== 'POST') {
      parameters.push({ name: 'If-Match', in: 'header', required: false, description: 'Change only if the pin is still this version (its ETag); 412 otherwise.', schema: { type: 'string' } });
    }
    if (op.etag && op.method === 'POST') {
      parameters.push({ name: 'If-None-Match', in: 'header', required: false, description: '`*`: create only; 412 if the project already pins this reference.', schema: { type: 'string', enum: ['*'] } });
    }
    (paths[op.path] ??= {})[op.method.toLowerCase()] = {
      operationId: id,
      tags: [op.tag],
      summary: op.summary,
      description: `Roles: ${op.roles.map((r) => (r === 'member*' ? 'member of the owning team' : r)).join(', ')}.`,
      'x-roles': op.roles,
      ...(parameters.length ? { parameters } : {}),
      ...(op.body ? { requestBody: { required: true, content: { 'application/json': { schema: schemaOf(op.body, 'input', components) } } } } : {}),
      responses,
    };
  }
  const errorJson = schemaOf(errorSchema, 'output', components);
  return {
    openapi: '3.1.0',
    info: {
      title: 'Cider Fleet API',
      version: '1.0.0',
      description: 'Pins, rollouts, nodes and sync jobs of a Cider Fleet. Authenticate with an API token (Settings -> API tokens): `Authorization: Bearer cat_...`.',
    },
    servers: [{ url: options.serverUrl }],
    security: [{ bearer: [] }],
    tags: [...new Set(Object.values(operations).map((op) => op.tag))].map((name) => ({ name })),
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'An API token, `cat_...`.' } },
      responses: {
        Error: {
          description: `An error: \`code\` is stable (${Object.entries(statusOf)
            .map(([code, status]) => `${code} ${status}`)
            .join(', ')}).`,
          content: { 'application/json': { schema: errorJson } },
        },
      },
      schemas: components,
    },
  };
}
