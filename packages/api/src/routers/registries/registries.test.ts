// The registries router's tag policy against the run's real docker-registry, PostgreSQL and Redis:
// admins turn immutable tags on and off (audited, announced), and anyone signed in, or a script
// with an API token, asks a host's policy the way `cider push` does over HTTP.
import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { describe, expect, inject, it, vi } from 'vitest';
import { eventsChannel, type FleetEvent } from '../../events.ts';
import { appRouter } from '../../root.ts';
import { createApiToken, userForApiToken } from '../../services/access/api-tokens.ts';
import type { TrpcContext } from '../../trpc.ts';
import { failure, invalid, useRouterHarness } from '../../../testing/test-context.ts';

const harness = useRouterHarness();
const host = inject('registryHost');

/**
 * Runs `run` while subscribed to fleet events and returns what arrived once every `expected`
 * event has (within 5 s). Some are published after the call returns: the router announces a
 * change fire-and-forget once it has committed.
 */
async function eventsDuring(run: () => Promise<unknown>, expected: FleetEvent[]): Promise<FleetEvent[]> {
  const subscriber = harness.deps.redis.duplicate();
  const seen: FleetEvent[] = [];
  subscriber.on('message', (_channel: string, raw: string) => seen.push(JSON.parse(raw) as FleetEvent));
  try {
    // Resolves once Redis confirmed the subscription: nothing published after it is missed.
    await subscriber.subscribe(eventsChannel(harness.deps.prefix));
    await run();
    await vi.waitFor(() => expect(seen).toEqual(expect.arrayContaining(expected)), { timeout: 5_000, interval: 10 });
    return seen;
  } finally {
    subscriber.disconnect();
  }
}

describe('registries tag policy (real docker-registry, PostgreSQL, Redis)', () => {
  let registryId: string;

  it('connects the run registry with immutable tags off, and reports that policy to every role', async () => {
    const admin = await harness.user('admin');
    const view = await harness.caller(admin).registries.create({ name: 'run registry', host, plainHttp: true, authKind: 'none' });
    registryId = view.id;
    expect(view.immutableTags).toBe(false);
    for (const role of ['admin', 'member', 'viewer'] as const) {
      const user = await harness.user(role);
      expect(await harness.caller(user).registries.tagPolicy({ host })).toEqual({ registry: { id: view.id, name: 'run registry', host }, immutableTags: false });
    }
    await expect(harness.caller(undefined).registries.tagPolicy({ host })).rejects.toEqual(failure('UNAUTHORIZED'));
  });

  it('lets only admins set immutable tags, records who changed it from what to what, and announces it', async () => {
    const admin = await harness.user('admin');
    for (const role of ['member', 'viewer'] as const) {
      const user = await harness.user(role);
      await expect(harness.caller(user).registries.setImmutableTags({ id: registryId, immutableTags: true })).rejects.toEqual(failure('FORBIDDEN', /Only admins/));
    }
    expect((await harness.deps.db.registry.findUniqueOrThrow({ where: { id: registryId } })).immutableTags).toBe(false);

    let view: Awaited<ReturnType<ReturnType<typeof harness.caller>['registries']['setImmutableTags']>> | undefined;
    const announced: FleetEvent[] = [{ type: 'registry.updated', registryId }, { type: 'data.changed', path: 'registries.setImmutableTags' }];
    const events = await eventsDuring(async () => {
      view = await harness.caller(admin).registries.setImmutableTags({ id: registryId, immutableTags: true });
    }, announced);
    expect(view).toMatchObject({ id: registryId, host, immutableTags: true });
    expect(events).toEqual(expect.arrayContaining(announced));
    expect((await harness.deps.db.registry.findUniqueOrThrow({ where: { id: registryId } })).immutableTags).toBe(true);

    const audit = await harness.deps.db.auditEvent.findMany({ where: { targetType: 'registry', targetId: registryId, action: 'registry.immutable-tags' } });
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ actor: admin.email, actorId: admin.id, before: { host, immutableTags: false }, after: { host, immutableTags: true } });

    const viewer = await harness.user('viewer');
    expect(await harness.caller(viewer).registries.tagPolicy({ host })).toMatchObject({ immutableTags: true });
    expect((await harness.caller(viewer).registries.list()).find((r) => r.id === registryId)?.immutableTags).toBe(true);

    // Setting what is already set changes nothing and records nothing.
    await harness.caller(admin).registries.setImmutableTags({ id: registryId, immutableTags: true });
    expect(await harness.deps.db.auditEvent.count({ where: { targetId: registryId, action: 'registry.immutable-tags' } })).toBe(1);

    await expect(harness.caller(admin).registries.setImmutableTags({ id: '00000000-0000-4000-8000-000000000000', immutableTags: true })).rejects.toEqual(failure('NOT_FOUND'));
    await expect(harness.caller(admin).registries.setImmutableTags({ id: 'nope', immutableTags: true })).rejects.toEqual(invalid(/./));
  });

  it('matches hosts whatever their case, scheme or trailing slash; unknown hosts have no policy; never returns credentials', async () => {
    const viewer = await harness.user('viewer');
    const api = harness.caller(viewer);
    const stored = await harness.deps.db.registry.create({
      data: { name: 'Mixed case', host: 'Registry.Example.COM:5000', authKind: 'basic', username: 'robot', secretSealed: new Uint8Array(Buffer.from('sealed-secret')), immutableTags: true },
    });
    const expected = { registry: { id: stored.id, name: 'Mixed case', host: 'Registry.Example.COM:5000' }, immutableTags: true };
    for (const asked of ['registry.example.com:5000', 'REGISTRY.EXAMPLE.COM:5000', 'https://registry.example.com:5000/', '  registry.example.com:5000 ']) {
      const policy = await api.registries.tagPolicy({ host: asked });
      expect(policy).toEqual(expected);
      expect(JSON.stringify(policy)).not.toMatch(/robot|sealed|secret|password|username/);
    }
    expect(await api.registries.tagPolicy({ host: 'registry.example.com:5001' })).toEqual({ registry: null, immutableTags: false });
    expect(await api.registries.tagPolicy({ host: 'unconnected.example' })).toEqual({ registry: null, immutableTags: false });
    await expect(api.registries.tagPolicy({ host: 'registry.example.com/a/path' })).rejects.toEqual(failure('BAD_REQUEST', /not a registry host/));
    await expect(api.registries.tagPolicy({ host: '' })).rejects.toEqual(invalid(/Give the registry host/));
  });

  it('answers the exact GET `cider push` sends with an API token (superjson input in the query string)', async () => {
    const member = await harness.user('member');
    const { token } = await createApiToken(harness.deps, { label: member.email, userId: member.id }, { userId: member.id, name: 'cider push' });
    const get = async (authorization: string | undefined, input: unknown) => {
      const url = `http://127.0.0.1/api/trpc/registries.tagPolicy?input=${encodeURIComponent(JSON.stringify(input))}`;
      const req = new Request(url, { headers: authorization ? { authorization } : {} });
      const response = await fetchRequestHandler({
        endpoint: '/api/trpc',
        req,
        router: appRouter,
        // As apps/web's route does: a Bearer cat_ token stands for its user.
        createContext: async (): Promise<TrpcContext> => ({
          deps: harness.deps,
          hub: { stream: async function* () {}, listen: async () => () => {} } as unknown as TrpcContext['hub'],
          user: await userForApiToken(harness.deps, /^Bearer\s+(cat_\S+)$/i.exec(authorization ?? '')?.[1]),
          sessionToken: undefined,
          userAgent: 'cider',
          setSessionCookie: () => {},
        }),
      });
      return { status: response.status, body: (await response.json()) as { result?: { data: { json: unknown } }; error?: { json: { message: string } } } };
    };
    const ok = await get(`Bearer ${token}`, { json: { host } });
    expect(ok.status).toBe(200);
    expect(ok.body.result?.data.json).toEqual({ registry: { id: registryId, name: 'run registry', host }, immutableTags: true });
    expect((await get(undefined, { json: { host } })).status).toBe(401);
    expect((await get('Bearer cat_not-a-token', { json: { host } })).status).toBe(401);
    expect((await get(`Bearer ${token}`, { json: {} })).status).toBe(400);
  });
});
