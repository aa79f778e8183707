// REST API v1: every operation once, as data. The server's handler (rest/handler.ts), the OpenAPI
// document (rest/openapi.ts) and `cider fleet`'s typed client (apps/cli) are all made from this
// list, so a path, a parameter or a response shape cannot differ between them.
//
// Inputs reuse the tRPC procedures' own schemas (the same bounds and messages); responses are the
// API's stable representations, narrower than what dashboard pages get, so a page may grow a
// field without changing the public contract. The handler parses every response with its schema
// before sending it: what is sent is what the document says.
//
// Conventions: ids are UUIDs; a `{project}` or `{node}` in a path is an id or a name (names are
// unique, any case); lists take `limit` and `cursor` and answer `{ items, nextCursor }`; times are
// RFC 3339 strings; errors are `{ error: { code, message, status, fields? } }`.
import { z } from 'zod';
import { nameLimits } from '../names.ts';
import { syncJobStates } from '../services/sync/lifecycle.ts';

/** Path and query values arrive as text: these read them. */
const cursor = z.string().min(1).max(200).optional().describe('From the previous page\'s `nextCursor`; leave out for the first page.');
const limit = (max: number, fallback: number) => z.coerce.number().int().min(1).max(max).default(fallback).describe(`Items per page, 1 to ${max} (default ${fallback}).`);
const uuid = z.uuid();
const idOrName = (kind: keyof typeof nameLimits) => z.string().trim().min(1).max(Math.max(nameLimits[kind], 36)).describe(`The ${kind}'s id or its name (any case).`);
const time = z.iso.datetime({ offset: true });
const digest = z.string().regex(/^sha256:[0-9a-f]{64}$/);
const labels = z.record(z.string(), z.string());

export const page = <T extends z.ZodType>(item: T) =>
  z.object({ items: z.array(item), nextCursor: z.string().nullable().describe('Pass as `cursor` for the next page; null on the last page.') });

// ---- Representations ----------------------------------------------------------------------

export const pinSchema = z
  .object({
    id: uuid,
    projectId: uuid,
    reference: z.string().describe('registry/repository:tag'),
    mode: z.enum(['follow', 'frozen']).describe('follow: moves with the tag (re-resolved when it moves); frozen: keeps this digest until changed.'),
    digest,
    driftDigest: digest.nullable().describe('A frozen pin whose tag moved upstream: the digest the tag points to now.'),
    resolvedAt: time,
    updatedAt: time,
    etag: z.string().describe('The pin\'s version, as sent in the `ETag` header: send it back in `If-Match` to change the pin only if nobody else has.'),
  })
  .meta({ id: 'Pin' });

export const projectSchema = z
  .object({
    id: uuid,
    name: z.string(),
    team: z.object({ id: uuid, name: z.string() }),
    nodeSelector: z.string().describe('Labels a node needs to serve this project, e.g. `pool=ci,arch=arm64`; empty for every node.'),
    pins: z.array(pinSchema),
  })
  .meta({ id: 'Project' });

export const nodeStatusSchema = z.enum(['online', 'offline', 'revoked']);
export const nodeSyncSchema = z.object({
  state: z.enum(['in-sync', 'behind', 'fetching', 'failed']),
  held: z.number().int().describe('Pinned digests the node holds.'),
  pinned: z.number().int().describe('Digests its projects pin for it.'),
  percent: z.number().int().nullable().describe('Of the images being fetched, when their sizes are known.'),
});
export const nodeConditionSchema = z.object({ type: z.string(), message: z.string() }).loose();

export const nodeSchema = z
  .object({
    id: uuid,
    name: z.string(),
    status: nodeStatusSchema,
    labels,
    lastSeenAt: time.nullable(),
    agentVersion: z.string().nullable(),
    os: z.string().nullable(),
    architecture: z.string().nullable(),
    diskFreeBytes: z.number().int().nullable(),
    diskTotalBytes: z.number().int().nullable(),
    cacheBytes: z.number().int(),
    images: z.number().int().describe('Images in its cache.'),
    sync: nodeSyncSchema,
    conditions: z.array(nodeConditionSchema),
  })
  .meta({ id: 'Node' });

export const nodeImageSchema = z.object({
  digest,
  reference: z.string().nullable(),
  size: z.number().int(),
  verifiedAt: time.nullable(),
  lastUsedAt: time.nullable(),
  pinnedBy: z.array(z.object({ projectId: uuid, projectName: z.string(), reference: z.string(), mode: z.string() })),
});

export const nodeDetailSchema = nodeSchema
  .omit({ sync: true, images: true, os: true, architecture: true, diskFreeBytes: true, diskTotalBytes: true, cacheBytes: true })
  .extend({
    enrolledAt: time.nullable(),
    revokedAt: time.nullable(),
    decommissionedAt: time.nullable(),
    facts: z
      .object({
        hostname: z.string(),
        os: z.object({ platform: z.string(), release: z.string(), version: z.string().nullable() }),
        architecture: z.string(),
        cpu: z.object({ model: z.string(), cores: z.number().int() }),
        memoryBytes: z.number().int(),
        disk: z.object({ totalBytes: z.number().int(), freeBytes: z.number().int() }),
        cache: z.object({ path: z.string(), bytes: z.number().int(), quotaBytes: z.number().int().nullable() }),
      })
      .nullable(),
    images: z.array(nodeImageSchema),
    missing: z.array(z.object({ digest, pinnedBy: nodeImageSchema.shape.pinnedBy })).describe('Pinned for this node but not in its cache yet.'),
  })
  .meta({ id: 'NodeDetail' });

export const jobStateSchema = z.enum(syncJobStates);
export const jobSchema = z
  .object({
    id: uuid,
    node: z.object({ id: uuid, name: z.string() }),
    reference: z.string(),
    digest,
    state: jobStateSchema,
    bytesDone: z.number().int(),
    bytesTotal: z.number().int().nullable(),
    attempts: z.number().int(),
    error: z.string().nullable(),
    createdAt: time,
    startedAt: time.nullable(),
    finishedAt: time.nullable(),
    sources: z
      .object({ registry: z.number().int(), mirror: z.number().int(), peers: z.number().int(), peerCount: z.number().int() })
      .nullable()
      .describe('Where a finished pull\'s bytes came from.'),
  })
  .meta({ id: 'Job' });

export const rolloutCellSchema = z.object({
  pinId: uuid,
  reference: z.string(),
  digest,
  status: z.enum(['in-sync', 'queued', 'syncing', 'failed', 'waiting-offline']),
  bytesDone: z.number().int(),
  bytesTotal: z.number().int().nullable(),
  error: z.string().nullable(),
  jobId: uuid.nullable(),
});

export const rolloutNodeSchema = z
  .object({ nodeId: uuid, nodeName: z.string(), nodeStatus: nodeStatusSchema, inSync: z.boolean(), pins: z.array(rolloutCellSchema) })
  .meta({ id: 'RolloutNode' });

export const rolloutSchema = z
  .object({
    project: z.object({ id: uuid, name: z.string() }),
    state: z
      .enum(['converged', 'in-progress', 'failing', 'no-pins'])
      .describe('converged: every serving node holds every pinned digest; failing: some node\'s last sync failed; no-pins: nothing pinned.'),
    serving: z.number().int().describe('Nodes serving the project.'),
    inSync: z.number().int(),
    fetching: z.number().int(),
    waiting: z.number().int().describe('Queued, or waiting for an offline node.'),
    failed: z.number().int(),
    bytesDone: z.number().int(),
    bytesTotal: z.number().int(),
    pins: z.array(pinSchema),
    failures: z.array(z.object({ nodeId: uuid, nodeName: z.string(), reference: z.string(), error: z.string().nullable() })).max(50).describe('Up to 50 failed nodes, by name.'),
  })
  .meta({ id: 'Rollout' });

export const registrySchema = z
  .object({
    id: uuid,
    name: z.string(),
    host: z.string(),
    plainHttp: z.boolean(),
    authKind: z.string(),
    immutableTags: z.boolean(),
    lastCheckedAt: time.nullable(),
    lastError: z.string().nullable(),
  })
  .meta({ id: 'Registry' });

export const repositorySchema = z.object({ name: z.string(), pins: z.number().int().describe('Pins of this repository, across projects.') }).meta({ id: 'Repository' });

export const tagSchema = z
  .object({
    tag: z.string(),
    digest: digest.nullable().describe('Null when the tag could not be read.'),
    macosVersion: z.string().nullable().describe("From the image's Cider config, else its annotations."),
    build: z.string().nullable(),
    createdAt: z.string().nullable().describe('When the image was made, as its config or annotations say.'),
    holders: z.number().int().describe('Nodes holding this digest.'),
  })
  .meta({ id: 'Tag' });

export const auditEventSchema = z
  .object({
    id: z.string(),
    at: time,
    actor: z.string(),
    action: z.string(),
    targetType: z.string(),
    targetId: z.string().nullable(),
    targetName: z.string().nullable(),
    changes: z.array(z.string()).describe('What changed, in words.'),
  })
  .meta({ id: 'AuditEvent' });

export const apiTokenSchema = z
  .object({
    id: uuid,
    name: z.string(),
    createdAt: time,
    lastUsedAt: time.nullable(),
    expiresAt: time.nullable(),
    revokedAt: time.nullable(),
    user: z.object({ id: uuid, email: z.string() }),
  })
  .meta({ id: 'ApiToken' });

export const meSchema = z
  .object({
    id: uuid,
    email: z.string(),
    role: z.enum(['admin', 'member', 'viewer']),
    teams: z.array(z.object({ id: uuid, name: z.string() })),
    token: z.object({ id: uuid, name: z.string(), expiresAt: time.nullable() }).nullable(),
  })
  .meta({ id: 'Me' });

export const errorCodes = [
  'BAD_REQUEST',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'NOT_FOUND',
  'METHOD_NOT_ALLOWED',
  'CONFLICT',
  'PRECONDITION_FAILED',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'TOO_MANY_REQUESTS',
  'REGISTRY_UNREACHABLE',
  'REGISTRY_AUTH',
  'REGISTRY_ERROR',
  'SERVICE_UNAVAILABLE',
  'INTERNAL',
] as const;

export const errorSchema = z
  .object({
    error: z.object({
      code: z.enum(errorCodes).describe('Stable: scripts branch on this, never on the message.'),
      message: z.string().describe('For people: what went wrong and what to do.'),
      status: z.number().int(),
      fields: z.record(z.string(), z.array(z.string())).optional().describe('Per input field, when the input was refused.'),
    }),
  })
  .meta({ id: 'Error' });

// ---- Operations ---------------------------------------------------------------------------

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
export type Role = 'admin' | 'member' | 'viewer';

export interface Operation {
  method: Method;
  /** Under /api/v1, with `{name}` path parameters. */
  path: string;
  summary: string;
  /** Groups the reference page. */
  tag: 'Projects' | 'Pins' | 'Nodes' | 'Jobs' | 'Images' | 'Registries' | 'Audit' | 'Tokens';
  /** Who may call it; `member*`: a member of the owning team (or an admin). */
  roles: readonly (Role | 'member*')[];
  params?: z.ZodObject;
  query?: z.ZodObject;
  body?: z.ZodObject;
  /** The success status and its body (none for 204). */
  status: 200 | 201 | 202 | 204;
  response?: z.ZodType;
  /** Answers with an `ETag` and honours `If-Match`. */
  etag?: boolean;
}

const projectParam = z.object({ project: idOrName('project') });
const nodeParam = z.object({ node: idOrName('node') });
const pinParam = z.object({ pinId: uuid });
const jobParam = z.object({ jobId: uuid });
const registryParam = z.object({ registry: z.string().trim().min(1).max(nameLimits.registry).describe('The registry\'s id, name or host.') });
const pinBody = z.object({
  reference: z.string().trim().min(1, 'Enter an image reference, e.g. registry.example.com/macos:15.2').max(600).describe('registry/repository:tag; resolved to a digest now.'),
  mode: z.enum(['follow', 'frozen']).default('follow'),
});

export const operations = {
  'me.get': { method: 'GET', path: '/me', summary: 'Who this token acts as', tag: 'Tokens', roles: ['admin', 'member', 'viewer'], status: 200, response: meSchema },

  'projects.list': {
    method: 'GET',
    path: '/projects',
    summary: 'List projects, by name',
    tag: 'Projects',
    roles: ['admin', 'member', 'viewer'],
    query: z.object({ team: z.string().trim().max(nameLimits.team).optional().describe('Only this team\'s (id or name).'), search: z.string().trim().max(100).optional(), cursor, limit: limit(200, 50) }),
    status: 200,
    response: page(projectSchema),
  },
  'projects.get': { method: 'GET', path: '/projects/{project}', summary: 'One project and its pins', tag: 'Projects', roles: ['admin', 'member', 'viewer'], params: projectParam, status: 200, response: projectSchema },
  'projects.rollout': {
    method: 'GET',
    path: '/projects/{project}/rollout',
    summary: 'Where the project\'s pins stand across its nodes: poll until `state` is converged',
    tag: 'Projects',
    roles: ['admin', 'member', 'viewer'],
    params: projectParam,
    status: 200,
    response: rolloutSchema,
  },
  'projects.rolloutNodes': {
    method: 'GET',
    path: '/projects/{project}/rollout/nodes',
    summary: 'The project\'s nodes, a page at a time, with each pin\'s state and progress there',
    tag: 'Projects',
    roles: ['admin', 'member', 'viewer'],
    params: projectParam,
    query: z.object({ notInSync: z.stringbool().default(false).describe('Only nodes still missing a pinned digest.'), cursor, limit: limit(200, 100) }),
    status: 200,
    response: page(rolloutNodeSchema),
  },

  'pins.list': { method: 'GET', path: '/projects/{project}/pins', summary: 'A project\'s pins', tag: 'Pins', roles: ['admin', 'member', 'viewer'], params: projectParam, status: 200, response: z.object({ items: z.array(pinSchema) }) },
  'pins.create': {
    method: 'POST',
    path: '/projects/{project}/pins',
    summary: 'Pin a tag: resolved to a digest now, then rolled out to the project\'s nodes (an existing pin of the same reference is re-resolved)',
    tag: 'Pins',
    roles: ['admin', 'member*'],
    params: projectParam,
    body: pinBody,
    status: 201,
    response: pinSchema,
    etag: true,
  },
  'pins.get': { method: 'GET', path: '/pins/{pinId}', summary: 'One pin', tag: 'Pins', roles: ['admin', 'member', 'viewer'], params: pinParam, status: 200, response: pinSchema, etag: true },
  'pins.update': {
    method: 'PUT',
    path: '/pins/{pinId}',
    summary: 'Move a pin to another tag or mode, re-resolving it now; with `If-Match`, only if it is still the version you read',
    tag: 'Pins',
    roles: ['admin', 'member*'],
    params: pinParam,
    body: pinBody,
    status: 200,
    response: pinSchema,
    etag: true,
  },
  'pins.delete': { method: 'DELETE', path: '/pins/{pinId}', summary: 'Unpin; with `If-Match`, only if unchanged', tag: 'Pins', roles: ['admin', 'member*'], params: pinParam, status: 204, etag: true },

  'nodes.list': {
    method: 'GET',
    path: '/nodes',
    summary: 'List nodes by name, filtered',
    tag: 'Nodes',
    roles: ['admin', 'member', 'viewer'],
    query: z.object({
      search: z.string().trim().max(100).optional().describe('Part of the name, any case.'),
      label: z.string().trim().max(200).optional().describe('`key=value`, or `key` for any value.'),
      state: z.enum(['online', 'offline', 'revoked']).optional(),
      sync: z.enum(['in-sync', 'behind', 'fetching', 'failed', 'drift']).optional(),
      cursor,
      limit: limit(200, 50),
    }),
    status: 200,
    response: page(nodeSchema),
  },
  'nodes.get': { method: 'GET', path: '/nodes/{node}', summary: 'One node: facts, cache, what it is missing', tag: 'Nodes', roles: ['admin', 'member', 'viewer'], params: nodeParam, status: 200, response: nodeDetailSchema },
  'nodes.revoke': {
    method: 'POST',
    path: '/nodes/{node}/revoke',
    summary: 'Revoke a node: its agent is disconnected and refused from now on',
    tag: 'Nodes',
    roles: ['admin'],
    params: nodeParam,
    status: 200,
    response: z.object({ id: uuid, name: z.string(), status: nodeStatusSchema, message: z.string() }),
  },

  'jobs.list': {
    method: 'GET',
    path: '/jobs',
    summary: 'Sync jobs, newest first',
    tag: 'Jobs',
    roles: ['admin', 'member', 'viewer'],
    query: z.object({
      state: z.enum([...syncJobStates, 'unfinished']).optional(),
      node: idOrName('node').optional(),
      digest: z.string().trim().max(71).optional().describe('A digest or its beginning.'),
      cursor,
      limit: limit(200, 50),
    }),
    status: 200,
    response: page(jobSchema),
  },
  'jobs.get': { method: 'GET', path: '/jobs/{jobId}', summary: 'One sync job', tag: 'Jobs', roles: ['admin', 'member', 'viewer'], params: jobParam, status: 200, response: jobSchema },
  'jobs.cancel': {
    method: 'POST',
    path: '/jobs/{jobId}/cancel',
    summary: 'Cancel an unfinished job',
    tag: 'Jobs',
    roles: ['admin'],
    params: jobParam,
    status: 200,
    response: z.object({ state: jobStateSchema, message: z.string() }),
  },
  'jobs.retry': {
    method: 'POST',
    path: '/jobs/{jobId}/retry',
    summary: 'Retry a failed job (a fresh job is queued if its node still needs the image)',
    tag: 'Jobs',
    roles: ['admin'],
    params: jobParam,
    status: 202,
    response: z.object({ queued: z.boolean(), jobId: uuid.nullable(), message: z.string() }),
  },

  'registries.list': { method: 'GET', path: '/registries', summary: 'Connected registries (credentials are never returned)', tag: 'Registries', roles: ['admin', 'member', 'viewer'], status: 200, response: z.object({ items: z.array(registrySchema) }) },
  'registries.tagPolicy': {
    method: 'GET',
    path: '/tag-policy',
    summary: 'Whether the registry at a host keeps its tags immutable (`cider image push` asks before pushing)',
    tag: 'Registries',
    roles: ['admin', 'member', 'viewer'],
    query: z.object({ host: z.string().trim().min(1, 'Give the registry host, e.g. registry.example.com or 127.0.0.1:5000').max(300).describe('As in an image reference; Docker Hub\'s aliases count as one.') }),
    status: 200,
    response: z
      .object({
        registry: z.object({ id: uuid, name: z.string(), host: z.string() }).nullable().describe('The connected registry for this host; null when none is.'),
        immutableTags: z.boolean(),
      })
      .meta({ id: 'TagPolicy' }),
  },
  'registries.get': { method: 'GET', path: '/registries/{registry}', summary: 'One registry', tag: 'Registries', roles: ['admin', 'member', 'viewer'], params: registryParam, status: 200, response: registrySchema },

  'images.repositories': {
    method: 'GET',
    path: '/registries/{registry}/repositories',
    summary: 'Repositories in a registry',
    tag: 'Images',
    roles: ['admin', 'member', 'viewer'],
    params: registryParam,
    query: z.object({ cursor, limit: limit(500, 100) }),
    status: 200,
    response: page(repositorySchema),
  },
  'images.tags': {
    method: 'GET',
    path: '/registries/{registry}/tags',
    summary: 'A repository\'s tags with their macOS version, build and how many nodes hold them',
    tag: 'Images',
    roles: ['admin', 'member', 'viewer'],
    params: registryParam,
    query: z.object({ repository: z.string().trim().min(1).max(255).describe('e.g. `macos`'), cursor, limit: limit(100, 30).describe("Items per page, 1 to 100 (default 30): each tag's version and build are read from its image at the registry (then cached).") }),
    status: 200,
    response: page(tagSchema),
  },

  'audit.list': {
    method: 'GET',
    path: '/audit-events',
    summary: 'The audit log, newest first',
    tag: 'Audit',
    roles: ['admin'],
    query: z.object({
      targetType: z.string().trim().max(100).optional(),
      actor: z.string().trim().max(320).optional(),
      action: z.string().trim().max(100).optional().describe('An action or its beginning, e.g. `pin.`'),
      from: time.optional(),
      to: time.optional(),
      cursor,
      limit: limit(100, 50),
    }),
    status: 200,
    response: page(auditEventSchema),
  },

  'tokens.list': {
    method: 'GET',
    path: '/tokens',
    summary: 'API tokens: yours, or every user\'s for an admin with `scope=all`',
    tag: 'Tokens',
    roles: ['admin', 'member', 'viewer'],
    query: z.object({ scope: z.enum(['mine', 'all']).default('mine') }),
    status: 200,
    response: z.object({ items: z.array(apiTokenSchema) }),
  },
  'tokens.create': {
    method: 'POST',
    path: '/tokens',
    summary: 'Create an API token for yourself; the secret is in this answer only',
    tag: 'Tokens',
    roles: ['admin', 'member', 'viewer'],
    body: z.object({ name: z.string().trim().min(1).max(100), expiresInDays: z.number().int().min(1).max(3650).optional() }),
    status: 201,
    response: z.object({ token: z.string(), apiToken: apiTokenSchema }),
  },
  'tokens.revoke': { method: 'DELETE', path: '/tokens/{tokenId}', summary: 'Revoke an API token (yours; any, for an admin)', tag: 'Tokens', roles: ['admin', 'member', 'viewer'], params: z.object({ tokenId: uuid }), status: 204 },
} as const satisfies Record<string, Operation>;

export type Operations = typeof operations;
export type OperationId = keyof Operations;

type Field<O, K extends string> = O extends { [P in K]: infer S extends z.ZodType } ? z.input<S> : undefined;
type Parsed<O, K extends string> = O extends { [P in K]: infer S extends z.ZodType } ? z.output<S> : undefined;

/** What a client sends: path parameters, query and body, as the caller writes them. */
export interface RequestOf<Id extends OperationId> {
  params: Field<Operations[Id], 'params'>;
  query: Field<Operations[Id], 'query'>;
  body: Field<Operations[Id], 'body'>;
}

/** What the handler receives, parsed (defaults filled in). */
export interface ParsedRequestOf<Id extends OperationId> {
  params: Parsed<Operations[Id], 'params'>;
  query: Parsed<Operations[Id], 'query'>;
  body: Parsed<Operations[Id], 'body'>;
}

/** The success body as JSON (times are strings); undefined for 204. */
export type ResponseOf<Id extends OperationId> = Operations[Id] extends { response: infer S extends z.ZodType } ? z.output<S> : undefined;

export type ErrorBody = z.output<typeof errorSchema>;
export type ErrorCode = (typeof errorCodes)[number];
