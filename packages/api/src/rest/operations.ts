// What each REST operation does. Changes go through the tRPC procedure (createCaller with the
// token's user), so permissions, audit records and `data.changed` events are the dashboard's own
// code; reads that every signed-in role may make use the services directly, shaped to the contract.
// The handler converts the result to JSON and parses it with the operation's response schema.
import { createHash } from 'node:crypto';
import type { Pin } from '@cider/db';
import type { EventHub } from '../events.ts';
import { AppError } from '../errors.ts';
import { createCaller } from '../root.ts';
import type { ApiTokenIdentity } from '../services/access/api-tokens.ts';
import type { AuthPolicy, SessionUser } from '../services/access/auth.ts';
import type { ServiceDeps } from '../services/deps.ts';
import { projectRollout } from '../services/fleet/overview.ts';
import { nodeDetail } from '../services/nodes/detail.ts';
import { nodePage } from '../services/nodes/node-page.ts';
import { getJob, listJobs } from '../services/sync/jobs.ts';
import { movePin } from '../services/projects/pins.ts';
import { factsOfDigests } from '../services/images/pick.ts';
import type { OperationId, ParsedRequestOf } from './contract.ts';
import { RestError } from './errors.ts';

export interface RestContext {
  deps: ServiceDeps;
  hub: EventHub;
  user: SessionUser;
  apiToken: ApiTokenIdentity;
  userAgent: string | undefined;
  clientAddress: string | undefined;
  authPolicy: AuthPolicy | undefined;
  ifMatch: string | undefined;
  ifNoneMatch: string | undefined;
  url: URL;
}

function caller(ctx: RestContext) {
  return createCaller({
    deps: ctx.deps,
    hub: ctx.hub,
    user: ctx.user,
    apiToken: ctx.apiToken,
    sessionToken: undefined,
    userAgent: ctx.userAgent,
    clientAddress: ctx.clientAddress,
    authPolicy: ctx.authPolicy,
    setSessionCookie() {
      // API tokens never start sessions.
    },
  });
}

// ---- cursors: opaque to clients (base64url of JSON) ---------------------------------------

export function encodeCursor(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

export function decodeCursor<T>(cursor: string | undefined, check: (value: unknown) => value is T): T | undefined {
  if (cursor === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (check(value)) return value;
  } catch {
    // fall through
  }
  throw new RestError('BAD_REQUEST', 'That cursor is not one this API gave out (or it is from another list); start again from the first page.', { fields: { cursor: ['Unknown cursor'] } });
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isOffset = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

// ---- pins -------------------------------------------------------------------------------

/** Strong ETag from what a change of the pin changes. */
export function pinEtag(pin: Pick<Pin, 'id' | 'reference' | 'mode' | 'digest' | 'updatedAt'>): string {
  const hash = createHash('sha256').update(`${pin.id}\n${pin.reference}\n${pin.mode}\n${pin.digest}\n${pin.updatedAt.toISOString()}`).digest('base64url');
  return `"${hash.slice(0, 27)}"`;
}

function pinView(pin: Pin) {
  return { ...pin, etag: pinEtag(pin) };
}

async function loadPin(deps: ServiceDeps, pinId: string): Promise<Pin> {
  const pin = await deps.db.pin.findUnique({ where: { id: pinId } });
  if (!pin) throw new AppError('NOT_FOUND', 'No such pin: it may have been removed.');
  return pin;
}

/** `If-Match`: absent allows the change; `*` or the current tag allow it; anything else is stale. */
function checkIfMatch(ctx: RestContext, pin: Pin): void {
  if (ctx.ifMatch === undefined) return;
  const tags = ctx.ifMatch.split(',').map((t) => t.trim().replace(/^W\//, ''));
  if (tags.includes('*') || tags.includes(pinEtag(pin))) return;
  throw new RestError(
    'PRECONDITION_FAILED',
    'The pin changed since you read it (If-Match names an older version). Who changed it and how is not known here: read it again (GET /pins/{pinId}, or the audit log) and retry with its new ETag.',
  );
}

// ---- projects -----------------------------------------------------------------------------

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

async function findProject(deps: ServiceDeps, idOrName: string) {
  const project = await deps.db.project.findFirst({
    where: uuidPattern.test(idOrName) ? { id: idOrName } : { name: { equals: idOrName, mode: 'insensitive' } },
    include: { team: true, pins: { orderBy: { reference: 'asc' } } },
  });
  if (!project) throw new AppError('NOT_FOUND', `No project "${idOrName}". List them with GET /projects.`);
  return project;
}

type ProjectRow = Awaited<ReturnType<typeof findProject>>;

function selectorText(value: unknown): string {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return '';
  return Object.entries(value as Record<string, unknown>)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(',');
}

function projectView(project: ProjectRow) {
  return { id: project.id, name: project.name, team: { id: project.team.id, name: project.team.name }, nodeSelector: selectorText(project.nodeSelector), pins: project.pins.map(pinView) };
}

async function findNodeId(deps: ServiceDeps, idOrName: string): Promise<string> {
  const node = await deps.db.node.findFirst({ where: uuidPattern.test(idOrName) ? { id: idOrName } : { name: { equals: idOrName, mode: 'insensitive' } }, select: { id: true } });
  if (!node) throw new AppError('NOT_FOUND', `No node "${idOrName}". List them with GET /nodes.`);
  return node.id;
}

async function rolloutSummary(deps: ServiceDeps, project: ProjectRow) {
  const all = await projectRollout(deps, project.id);
  let inSync = 0;
  let fetching = 0;
  let waiting = 0;
  let failed = 0;
  let bytesDone = 0;
  let bytesTotal = 0;
  const failures: { nodeId: string; nodeName: string; reference: string; error: string | null }[] = [];
  for (const row of all.rows) {
    if (row.inSync) inSync += 1;
    const failedCell = row.cells.find((c) => c.status === 'failed');
    if (failedCell) {
      failed += 1;
      if (failures.length < 50) failures.push({ nodeId: row.nodeId, nodeName: row.nodeName, reference: failedCell.reference, error: failedCell.error });
    } else if (row.cells.some((c) => c.status === 'syncing')) fetching += 1;
    else if (!row.inSync) waiting += 1;
    for (const cell of row.cells) {
      if (cell.status === 'in-sync') continue;
      bytesDone += cell.bytesDone;
      bytesTotal += cell.bytesTotal ?? 0;
    }
  }
  const state = project.pins.length === 0 ? 'no-pins' : failed > 0 ? 'failing' : inSync === all.serving ? 'converged' : 'in-progress';
  return {
    project: { id: project.id, name: project.name },
    state,
    serving: all.serving,
    inSync,
    fetching,
    waiting,
    failed,
    bytesDone,
    bytesTotal,
    pins: project.pins.map(pinView),
    failures,
  };
}

async function findRegistry(ctx: RestContext, key: string) {
  const all = await caller(ctx).registries.list();
  const lower = key.toLowerCase();
  const found = all.find((r) => r.id === key || r.name.toLowerCase() === lower || r.host.toLowerCase() === lower);
  if (!found) throw new AppError('NOT_FOUND', `No registry "${key}". List them with GET /registries.`);
  return found;
}

/** A page of a list the registry gave whole (its catalog, a repository's tags): an offset in the cursor. */
function offsetPage<T>(all: T[], query: { cursor?: string; limit: number }) {
  const offset = decodeCursor(query.cursor, isOffset) ?? 0;
  const next = offset + query.limit;
  return { items: all.slice(offset, next), nextCursor: next < all.length ? encodeCursor(next) : null };
}

type Implementation<Id extends OperationId> = (ctx: RestContext, input: ParsedRequestOf<Id>) => Promise<unknown>;

export const implementations: { [Id in OperationId]: Implementation<Id> } = {
  'me.get': async (ctx) => {
    const teams = await ctx.deps.db.team.findMany({ where: { id: { in: ctx.user.teams.map((t) => t.teamId) } }, select: { id: true, name: true }, orderBy: { name: 'asc' } });
    const token = await ctx.deps.db.apiToken.findUnique({ where: { id: ctx.apiToken.id }, select: { id: true, name: true, expiresAt: true } });
    return { id: ctx.user.id, email: ctx.user.email, role: ctx.user.role, teams, token };
  },

  'projects.list': async (ctx, { query }) => {
    const after = decodeCursor(query.cursor, isString);
    const team = query.team ? (uuidPattern.test(query.team) ? { teamId: query.team } : { team: { name: { equals: query.team, mode: 'insensitive' as const } } }) : {};
    const rows = await ctx.deps.db.project.findMany({
      where: { ...team, ...(query.search ? { name: { contains: query.search, mode: 'insensitive' } } : {}), ...(after !== undefined ? { AND: [{ name: { gt: after } }] } : {}) },
      orderBy: { name: 'asc' },
      take: query.limit + 1,
      include: { team: true, pins: { orderBy: { reference: 'asc' } } },
    });
    const items = rows.slice(0, query.limit);
    return { items: items.map(projectView), nextCursor: rows.length > query.limit ? encodeCursor(items.at(-1)!.name) : null };
  },
  'projects.get': async (ctx, { params }) => projectView(await findProject(ctx.deps, params.project)),
  'projects.rollout': async (ctx, { params }) => rolloutSummary(ctx.deps, await findProject(ctx.deps, params.project)),
  'projects.rolloutNodes': async (ctx, { params, query }) => {
    const project = await findProject(ctx.deps, params.project);
    // Offset inside an opaque cursor: rollout rows are computed per request in name order.
    const offset = decodeCursor(query.cursor, isOffset) ?? 0;
    const page = await projectRollout(ctx.deps, project.id, { onlyNotInSync: query.notInSync, offset, limit: query.limit });
    const next = offset + page.rows.length;
    return {
      items: page.rows.map((row) => ({ nodeId: row.nodeId, nodeName: row.nodeName, nodeStatus: row.nodeStatus, inSync: row.inSync, pins: row.cells.map((c) => ({ ...c, jobId: c.syncJobId })) })),
      nextCursor: next < page.total ? encodeCursor(next) : null,
    };
  },

  'pins.list': async (ctx, { params }) => ({ items: (await findProject(ctx.deps, params.project)).pins.map(pinView) }),
  'pins.create': async (ctx, { params, body }) => {
    const project = await findProject(ctx.deps, params.project);
    if (ctx.ifNoneMatch?.trim() === '*') {
      // Create-only: refuse when the project already pins this reference (compared as typed, after trimming).
      const existing = project.pins.find((p) => p.reference === body.reference.trim());
      if (existing) throw new RestError('PRECONDITION_FAILED', `${project.name} already pins ${existing.reference} (If-None-Match: *): change it with PUT /pins/${existing.id}.`);
    }
    const saved = await caller(ctx).pins.set({ projectId: project.id, reference: body.reference, mode: body.mode });
    return pinView(await loadPin(ctx.deps, saved.id));
  },
  'pins.get': async (ctx, { params }) => pinView(await loadPin(ctx.deps, params.pinId)),
  'pins.update': async (ctx, { params, body }) => {
    const pin = await loadPin(ctx.deps, params.pinId);
    checkIfMatch(ctx, pin);
    const moved = await movePin(ctx.deps, { userId: ctx.user.id, label: ctx.user.email }, ctx.user, { pinId: pin.id, reference: body.reference, mode: body.mode, expected: pin });
    return pinView(moved);
  },
  'pins.delete': async (ctx, { params }) => {
    const pin = await loadPin(ctx.deps, params.pinId);
    checkIfMatch(ctx, pin);
    await caller(ctx).pins.remove({ pinId: pin.id });
  },

  'nodes.list': async (ctx, { query }) => {
    const after = decodeCursor(query.cursor, isString);
    const page = await nodePage(ctx.deps, { search: query.search, label: query.label, state: query.state, sync: query.sync, sort: 'name', direction: 'asc', page: 1, pageSize: query.limit + 1, afterName: after });
    const items = page.rows.slice(0, query.limit);
    return { items, nextCursor: page.rows.length > query.limit ? encodeCursor(items.at(-1)!.name) : null };
  },
  'nodes.get': async (ctx, { params }) => nodeDetail(ctx.deps, await findNodeId(ctx.deps, params.node)),
  'nodes.revoke': async (ctx, { params }) => {
    const result = await caller(ctx).nodes.revoke({ nodeId: await findNodeId(ctx.deps, params.node) });
    return { id: result.nodeId, name: result.nodeName, status: 'revoked', message: result.message };
  },

  'jobs.list': async (ctx, { query }) => {
    const nodeId = query.node ? await findNodeId(ctx.deps, query.node) : undefined;
    const page = await listJobs(ctx.deps, { state: query.state, nodeId, digest: query.digest || undefined, cursor: decodeCursor(query.cursor, isString), limit: query.limit });
    return { items: page.items, nextCursor: page.nextCursor === null ? null : encodeCursor(page.nextCursor) };
  },
  'jobs.get': async (ctx, { params }) => getJob(ctx.deps, params.jobId),
  'jobs.cancel': async (ctx, { params }) => caller(ctx).jobs.cancel({ jobId: params.jobId }),
  'jobs.retry': async (ctx, { params }) => {
    const result = await caller(ctx).jobs.retry({ jobId: params.jobId });
    return { queued: result.queued, jobId: result.syncJobId, message: result.message };
  },

  'registries.list': async (ctx) => ({ items: await caller(ctx).registries.list() }),
  'registries.get': async (ctx, { params }) => findRegistry(ctx, params.registry),
  'images.repositories': async (ctx, { params, query }) => {
    const registry = await findRegistry(ctx, params.registry);
    const { catalog } = await caller(ctx).images.repositories({ registryId: registry.id });
    if (!catalog.available) throw new AppError('NOT_FOUND', `${registry.name} does not list its repositories (no catalog); ask for a repository's tags by name instead.`);
    return offsetPage(catalog.repositories, query);
  },
  'registries.tagPolicy': async (ctx, { query }) => caller(ctx).registries.tagPolicy({ host: query.host }),
  'images.tags': async (ctx, { params, query }) => {
    const registry = await findRegistry(ctx, params.registry);
    const listed = await caller(ctx).images.tags({ registryId: registry.id, repository: query.repository });
    // The page first, then its images' facts: a page of 30 tags costs 30 small reads, once (cached by digest).
    const page = offsetPage(listed.tags, query);
    const facts = await factsOfDigests(ctx.deps, { registryId: registry.id, repository: query.repository, digests: page.items.flatMap((t) => (t.digest ? [t.digest] : [])) });
    const none = { version: null, build: null, created: null };
    return {
      items: page.items.map((t) => {
        const f = (t.digest ? facts.get(t.digest) : undefined) ?? none;
        return { tag: t.name, digest: t.digest, macosVersion: f.version, build: f.build, createdAt: f.created, holders: t.nodes };
      }),
      nextCursor: page.nextCursor,
    };
  },

  'audit.list': async (ctx, { query }) => {
    const page = await caller(ctx).audit.list({
      targetType: query.targetType,
      actor: query.actor,
      action: query.action,
      from: query.from ? new Date(query.from) : undefined,
      to: query.to ? new Date(query.to) : undefined,
      cursor: decodeCursor(query.cursor, isString),
      limit: query.limit,
    });
    return {
      // Changes in words only: the raw before/after stay in the dashboard (redacted there too).
      items: page.events.map((e) => ({ ...e, changes: e.changes.map((c) => `${c.field}: ${c.before ?? '(none)'} → ${c.after ?? '(none)'}`) })),
      nextCursor: page.nextCursor === null ? null : encodeCursor(page.nextCursor),
    };
  },

  'tokens.list': async (ctx, { query }) => ({ items: await caller(ctx).tokens.api.list({ scope: query.scope }) }),
  'tokens.create': async (ctx, { body }) => caller(ctx).tokens.api.create({ name: body.name, expiresInDays: body.expiresInDays }),
  'tokens.revoke': async (ctx, { params }) => {
    await caller(ctx).tokens.api.revoke({ tokenId: params.tokenId });
  },
};
