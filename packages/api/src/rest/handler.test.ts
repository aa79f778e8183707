// REST API v1 as web serves it (the same handler, called with Request objects) against real
// PostgreSQL and Redis: every contract operation x role (a row per operation, so a new operation
// without one fails), API-token auth, error shapes, ETag/If-Match on pins, cursor pages.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createApiToken, revokeApiToken } from '../services/access/api-tokens.ts';
import type { SessionUser } from '../services/access/auth.ts';
import { useRouterHarness } from '../../testing/test-context.ts';
import { errorSchema, operations, type OperationId } from './contract.ts';
import { createRestHandler } from './handler.ts';

const harness = useRouterHarness();
const base = 'http://dashboard.test:3000/api/v1';

function handler() {
  return createRestHandler({ basePath: '/api/v1', services: () => ({ deps: harness.deps, hub: harness.hub }), trustedProxyHops: 0 });
}

async function tokenFor(user: SessionUser): Promise<string> {
  return (await createApiToken(harness.deps, { userId: user.id, label: user.email }, { userId: user.id, name: 'test' })).token;
}

function call(method: string, path: string, token?: string, body?: unknown, headers: Record<string, string> = {}): Request {
  return new Request(`${base}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function expectError(response: Response, status: number, code: string) {
  expect(response.status).toBe(status);
  const body = errorSchema.parse(await response.json());
  expect(body.error).toMatchObject({ code, status });
  return body;
}

/** A team, its project with one pin (written directly: no registry needed), and the four kinds of caller. */
async function fixture() {
  const db = harness.deps.db;
  const suffix = randomUUID().slice(0, 8);
  const team = await db.team.create({ data: { name: `team-${suffix}` } });
  const other = await db.team.create({ data: { name: `other-${suffix}` } });
  const project = await db.project.create({ data: { name: `proj-${suffix}`, teamId: team.id } });
  const registry = await db.registry.create({ data: { name: `reg-${suffix}`, host: `reg-${suffix}.test` } });
  const digest = `sha256:${'a'.repeat(64)}`;
  const pin = await db.pin.create({
    data: { projectId: project.id, registryId: registry.id, reference: `reg-${suffix}.test/macos:15.2`, repository: 'macos', tag: '15.2', digest, resolvedAt: new Date() },
  });
  const users = {
    admin: await harness.user('admin'),
    member: await harness.user('member', { teams: { [team.id]: 'member' } }),
    otherMember: await harness.user('member', { teams: { [other.id]: 'member' } }),
    viewer: await harness.user('viewer'),
  };
  const tokens = {
    admin: await tokenFor(users.admin),
    member: await tokenFor(users.member),
    otherMember: await tokenFor(users.otherMember),
    viewer: await tokenFor(users.viewer),
  };
  return { team, project, registry, pin, users, tokens, suffix };
}

type Fixture = Awaited<ReturnType<typeof fixture>>;

/** One request per operation: a new operation in the contract needs a row here (type and test). */
const rows: Record<OperationId, (f: Fixture) => { path: string; body?: unknown }> = {
  'me.get': () => ({ path: '/me' }),
  'projects.list': () => ({ path: '/projects' }),
  'projects.get': (f) => ({ path: `/projects/${f.project.name}` }),
  'projects.rollout': (f) => ({ path: `/projects/${f.project.id}/rollout` }),
  'projects.rolloutNodes': (f) => ({ path: `/projects/${f.project.id}/rollout/nodes` }),
  'pins.list': (f) => ({ path: `/projects/${f.project.id}/pins` }),
  // The registry is not reachable: allowed callers get past the role check to a registry error.
  'pins.create': (f) => ({ path: `/projects/${f.project.id}/pins`, body: { reference: `nowhere-${f.suffix}.test/macos:15.3` } }),
  'pins.get': (f) => ({ path: `/pins/${f.pin.id}` }),
  'pins.update': (f) => ({ path: `/pins/${f.pin.id}`, body: { reference: `nowhere-${f.suffix}.test/macos:15.3` } }),
  // Refused callers go first (see the loop), so the pin still exists when they are refused.
  'pins.delete': (f) => ({ path: `/pins/${f.pin.id}` }),
  'nodes.list': () => ({ path: '/nodes' }),
  'nodes.get': () => ({ path: '/nodes/no-such-node' }),
  'nodes.revoke': () => ({ path: '/nodes/no-such-node/revoke' }),
  'jobs.list': () => ({ path: '/jobs' }),
  'jobs.get': () => ({ path: `/jobs/${randomUUID()}` }),
  'jobs.cancel': () => ({ path: `/jobs/${randomUUID()}/cancel` }),
  'jobs.retry': () => ({ path: `/jobs/${randomUUID()}/retry` }),
  'registries.list': () => ({ path: '/registries' }),
  'registries.get': (f) => ({ path: `/registries/${f.registry.name}` }),
  'registries.tagPolicy': (f) => ({ path: `/tag-policy?host=${encodeURIComponent(f.registry.host)}` }),
  'images.repositories': (f) => ({ path: `/registries/${f.registry.id}/repositories` }),
  'images.tags': (f) => ({ path: `/registries/${f.registry.id}/tags?repository=macos` }),
  'audit.list': () => ({ path: '/audit-events' }),
  'tokens.list': () => ({ path: '/tokens' }),
  'tokens.create': () => ({ path: '/tokens', body: { name: 'ci', expiresInDays: 1 } }),
  'tokens.revoke': () => ({ path: `/tokens/${randomUUID()}` }),
};

describe('REST API v1 (real PostgreSQL, Redis)', () => {
  it('has a matrix row for every contract operation', () => {
    expect(Object.keys(rows).sort()).toEqual(Object.keys(operations).sort());
  });

  it('route x role: allowed roles pass the role check, others get 403, no or a revoked token 401', async () => {
    const f = await fixture();
    const handle = handler();
    const revoked = await tokenFor(f.users.admin);
    const revokedRow = await harness.deps.db.apiToken.findFirstOrThrow({ where: { userId: f.users.admin.id }, orderBy: { createdAt: 'desc' } });
    await revokeApiToken(harness.deps, { userId: f.users.admin.id, label: 'test' }, { tokenId: revokedRow.id });
    for (const [id, op] of Object.entries(operations) as [OperationId, (typeof operations)[OperationId]][]) {
      const row = rows[id](f);
      for (const token of [undefined, revoked]) {
        const response = await handle(call(op.method, row.path, token, row.body));
        expect(response.status, `${id} without a valid token`).toBe(401);
        expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
      }
      const roles = op.roles as readonly string[];
      const allowed = { admin: roles.includes('admin'), member: roles.includes('member') || roles.includes('member*'), otherMember: roles.includes('member'), viewer: roles.includes('viewer') };
      for (const who of ['viewer', 'otherMember', 'member', 'admin'] as const) {
        const response = await handle(call(op.method, row.path, f.tokens[who], row.body));
        const text = await response.text();
        if (allowed[who]) {
          expect([401, 403, 500], `${id} as ${who}: ${response.status} ${text}`).not.toContain(response.status);
        } else {
          expect(response.status, `${id} as ${who}: ${text}`).toBe(403);
        }
      }
    }
  }, 120_000);

  it('answers errors in one shape: unknown path, wrong method, content type, size, bad input', async () => {
    const f = await fixture();
    const handle = handler();
    const t = f.tokens.admin;
    await expectError(await handle(call('GET', '/no-such-thing', t)), 404, 'NOT_FOUND');
    const wrong = await handle(call('PATCH', `/pins/${f.pin.id}`, t));
    await expectError(wrong, 405, 'METHOD_NOT_ALLOWED');
    expect(wrong.headers.get('allow')?.split(', ').sort()).toEqual(['DELETE', 'GET', 'PUT']);
    const form = await handle(new Request(`${base}/projects/${f.project.id}/pins`, { method: 'POST', headers: { authorization: `Bearer ${t}`, 'content-type': 'text/plain' }, body: 'x' }));
    await expectError(form, 415, 'UNSUPPORTED_MEDIA_TYPE');
    await expectError(await handle(call('POST', `/projects/${f.project.id}/pins`, t, { reference: 'x'.repeat(2 * 1024 * 1024) })), 413, 'PAYLOAD_TOO_LARGE');
    const bad = await expectError(await handle(call('POST', `/projects/${f.project.id}/pins`, t, { reference: '', mode: 'sometimes' })), 400, 'BAD_REQUEST');
    expect(Object.keys(bad.error.fields ?? {}).sort()).toEqual(['mode', 'reference']);
    const limit = await expectError(await handle(call('GET', '/projects?limit=9999', t)), 400, 'BAD_REQUEST');
    expect(limit.error.fields?.limit).toBeDefined();
    await expectError(await handle(call('GET', '/projects?cursor=garbage', t)), 400, 'BAD_REQUEST');
    await expectError(await handle(call('GET', `/pins/not-a-uuid`, t)), 400, 'BAD_REQUEST');
  });

  it('serves the OpenAPI document without a token, naming every operation', async () => {
    const response = await handler()(new Request(`${base}/openapi.json`));
    expect(response.status).toBe(200);
    const document = (await response.json()) as { openapi: string; paths: Record<string, Record<string, { operationId: string }>> };
    expect(document.openapi).toBe('3.1.0');
    const ids = Object.values(document.paths).flatMap((methods) => Object.values(methods).map((op) => op.operationId));
    expect(ids.sort()).toEqual(Object.keys(operations).sort());
  });

  it('pins carry an ETag; If-Match: a stale one is 412, the current one or none is honoured', async () => {
    const f = await fixture();
    const handle = handler();
    const t = f.tokens.member;
    const read = await handle(call('GET', `/pins/${f.pin.id}`, t));
    expect(read.status).toBe(200);
    const etag = read.headers.get('etag')!;
    expect(etag).toMatch(/^"[\w-]+"$/);
    expect(((await read.json()) as { etag: string }).etag).toBe(etag);

    // Someone else changes the pin: the version read before is stale.
    await harness.deps.db.pin.update({ where: { id: f.pin.id }, data: { mode: 'frozen' } });
    const stale = await expectError(await handle(call('DELETE', `/pins/${f.pin.id}`, t, undefined, { 'if-match': etag })), 412, 'PRECONDITION_FAILED');
    expect(stale.error.message).toMatch(/read it again/);
    expect(await harness.deps.db.pin.count({ where: { id: f.pin.id } })).toBe(1);

    const fresh = (await handle(call('GET', `/pins/${f.pin.id}`, t))).headers.get('etag')!;
    expect(fresh).not.toBe(etag);
    const removed = await handle(call('DELETE', `/pins/${f.pin.id}`, t, undefined, { 'if-match': fresh }));
    expect(removed.status).toBe(204);
    expect(await harness.deps.db.pin.count({ where: { id: f.pin.id } })).toBe(0);
    const audit = await harness.deps.db.auditEvent.findFirst({ where: { action: 'pin.delete', targetId: f.pin.id } });
    expect(audit).not.toBeNull();
  });

  it('walks every page of projects once, with a Link header to the next', async () => {
    const f = await fixture();
    const handle = handler();
    for (let i = 0; i < 7; i++) await harness.deps.db.project.create({ data: { name: `page-${f.suffix}-${i}`, teamId: f.team.id } });
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = `/projects?search=page-${f.suffix}&limit=3${cursor ? `&cursor=${cursor}` : ''}`;
      const response = await handle(call('GET', query, f.tokens.viewer));
      expect(response.status).toBe(200);
      const body = (await response.json()) as { items: { name: string }[]; nextCursor: string | null };
      seen.push(...body.items.map((p) => p.name));
      cursor = body.nextCursor;
      if (cursor) expect(response.headers.get('link')).toContain('rel="next"');
      else expect(response.headers.get('link')).toBeNull();
      pages += 1;
    } while (cursor && pages < 10);
    expect(seen).toEqual(Array.from({ length: 7 }, (_, i) => `page-${f.suffix}-${i}`));
    expect(pages).toBe(3);
  });
  it('walks nodes by name a page at a time, and sums a rollout (nodes missing the pin: in progress)', async () => {
    const f = await fixture();
    const handle = handler();
    const names = Array.from({ length: 5 }, (_, i) => `mac-${f.suffix}-${i}`);
    for (const name of names.toReversed()) {
      await harness.deps.db.node.create({ data: { name, secretHash: 'x'.repeat(64), state: 'online', lastSeenAt: new Date() } });
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const path: string = `/nodes?search=mac-${f.suffix}&limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const response = await handle(call('GET', path, f.tokens.viewer));
      expect(response.status).toBe(200);
      const body = (await response.json()) as { items: { name: string; sync: { state: string } }[]; nextCursor: string | null };
      seen.push(...body.items.map((n) => n.name));
      cursor = body.nextCursor;
      pages += 1;
    } while (cursor && pages < 10);
    expect(seen).toEqual(names);
    expect(pages).toBe(3);

    // The project has an empty selector: every node serves it, none holds its pin yet.
    const rollout = await handle(call('GET', `/projects/${f.project.name}/rollout`, f.tokens.viewer));
    expect(rollout.status).toBe(200);
    const summary = (await rollout.json()) as { state: string; serving: number; inSync: number; waiting: number; failed: number };
    expect(summary.state).toBe('in-progress');
    expect(summary.inSync).toBe(0);
    expect(summary.serving).toBeGreaterThanOrEqual(5);
    const rows: string[] = [];
    let next: string | null = null;
    do {
      const path: string = `/projects/${f.project.id}/rollout/nodes?limit=2${next ? `&cursor=${next}` : ''}`;
      const body = (await (await handle(call('GET', path, f.tokens.viewer))).json()) as { items: { nodeName: string; inSync: boolean }[]; nextCursor: string | null };
      rows.push(...body.items.map((r) => r.nodeName));
      next = body.nextCursor;
    } while (next);
    expect(rows.length).toBe(summary.serving);
    expect(new Set(rows).size).toBe(rows.length);
    for (const name of names) expect(rows).toContain(name);
  });
});

describe('REST v1: what the metrics observer is told', () => {
  it('one call per request that named an operation, with its id, type and error code; procedures it runs are not told again', async () => {
    const calls: { path: string; type: string; via: string; code: string | undefined }[] = [];
    const observed = createRestHandler({
      basePath: '/api/v1',
      services: () => ({ deps: harness.deps, hub: harness.hub }),
      trustedProxyHops: 0,
      observer: { called: ({ path, type, via, code }) => void calls.push({ path, type, via, code }) },
    });
    const admin = await harness.user('admin');
    const token = await tokenFor(admin);
    expect((await observed(call('GET', '/projects', token))).status).toBe(200);
    expect((await observed(call('GET', '/me'))).status).toBe(401);
    expect((await observed(call('POST', `/jobs/${randomUUID()}/cancel`, token))).status).toBe(404);
    expect((await observed(call('POST', '/projects/x/pins', token, { reference: '' }))).status).toBe(400);
    // No operation named: nothing to count under a bounded label.
    expect((await observed(call('GET', '/no/such/thing', token))).status).toBe(404);
    expect(calls).toEqual([
      { path: 'projects.list', type: 'query', via: 'rest', code: undefined },
      { path: 'me.get', type: 'query', via: 'rest', code: 'UNAUTHENTICATED' },
      { path: 'jobs.cancel', type: 'mutation', via: 'rest', code: 'NOT_FOUND' },
      { path: 'pins.create', type: 'mutation', via: 'rest', code: 'BAD_REQUEST' },
    ]);
  });
});
