// Outages seen from the services and the tRPC layer, against a real redis-server that the test
// kills (SIGKILL) and restarts, and PostgreSQL on a port nobody listens on: calls answer quickly
// with a 503 that names the service, a change that committed is not failed by Redis, sign-in
// fails closed, and live event streams end (so browsers reconnect) and work again afterwards.
import { randomBytes, randomUUID } from 'node:crypto';
import { useTestDatabase } from '@cider/db/testing';
import { freePort, startRedisServer, type RedisServer } from '@cider/services';
import { TRPCError } from '@trpc/server';
import { getHTTPStatusCodeFromError } from '@trpc/server/http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionCookieName } from './cookies.ts';
import { createServiceDeps } from './deps-factory.ts';
import { createTrpcHandler } from './http/trpc-handler.ts';
import type { FleetEvent } from './events.ts';
import { serviceOutage, ServiceUnavailableError } from './outage.ts';
import { createCaller } from './root.ts';
import { createUser, type SessionUser } from './services/access/auth.ts';
import type { TrpcContext } from './trpc.ts';

const database = useTestDatabase();
const quietLog = { warn: () => {}, info: () => {} };

async function timed<T>(run: () => Promise<T>): Promise<{ value?: T; error?: unknown; ms: number }> {
  const started = Date.now();
  try {
    return { value: await run(), ms: Date.now() - started };
  } catch (error) {
    return { error, ms: Date.now() - started };
  }
}

function expect503(error: unknown, message: RegExp): void {
  expect(error).toBeInstanceOf(TRPCError);
  expect((error as TRPCError).code).toBe('SERVICE_UNAVAILABLE');
  expect(getHTTPStatusCodeFromError(error as TRPCError)).toBe(503);
  expect((error as TRPCError).message).toMatch(message);
}

describe('outages of Redis (killed and restarted) and PostgreSQL (unreachable)', () => {
  let redis: RedisServer;
  let web: ReturnType<typeof createServiceDeps>;
  let control: ReturnType<typeof createServiceDeps>;
  let admin: SessionUser;
  const prefix = `outage${randomBytes(3).toString('hex')}`;
  const secretKey = randomBytes(32).toString('base64');
  const caller = (user: SessionUser | undefined, services = web) => {
    const ctx: TrpcContext = { deps: services.deps, hub: services.hub, user, sessionToken: undefined, userAgent: undefined, setSessionCookie: () => {} };
    return createCaller(ctx);
  };

  beforeAll(async () => {
    redis = await startRedisServer();
    const config = { databaseUrl: database.url, redisUrl: redis.url, redisPrefix: prefix, secretKey, log: quietLog };
    web = createServiceDeps({ ...config, enqueue: 'best-effort' });
    control = createServiceDeps(config);
    const { id } = await createUser(web.deps, { email: 'admin@outage.test', name: 'Admin', password: 'a long enough password', role: 'admin' });
    admin = { id, email: 'admin@outage.test', name: 'Admin', role: 'admin', teams: [] };
  });
  afterAll(async () => {
    await web?.close();
    await control?.close();
    await redis?.remove();
  });

  it('while Redis is down: publish gives up within a second, commands and strict enqueues fail fast, a committed change still succeeds, sign-in fails closed', async () => {
    const team = await web.deps.db.team.create({ data: { name: 'Platform' } });
    const registry = await web.deps.db.registry.create({ data: { name: 'outage', host: '127.0.0.1:1', plainHttp: true } });
    const project = await web.deps.db.project.create({ data: { name: 'outage-ci', teamId: team.id, nodeSelector: {} } });
    const pin = await web.deps.db.pin.create({
      data: { projectId: project.id, registryId: registry.id, reference: '127.0.0.1:1/a:1', repository: 'a', tag: '1', digest: `sha256:${'a'.repeat(64)}`, resolvedAt: new Date() },
    });
    await web.deps.redis.ping();
    await control.deps.redis.ping();
    await redis.stop('SIGKILL');

    const publish = await timed(() => web.deps.events.publish({ type: 'node.updated', nodeId: 'n' }));
    expect(publish.error).toBeUndefined();
    expect(publish.ms).toBeLessThan(1_500);

    const command = await timed(() => web.deps.redis.get(`${prefix}:x`));
    expect(serviceOutage(command.error)?.service).toBe('redis');
    expect(command.ms).toBeLessThan(3_000);

    const strict = await timed(() => control.deps.queues.add('reconcile', { scope: 'all', reason: 'test' }));
    expect(strict.error).toBeInstanceOf(ServiceUnavailableError);
    expect(strict.ms).toBeLessThan(3_500);

    // pins.remove commits in PostgreSQL, then enqueues a reconcile: the request still succeeds.
    const removed = await timed(() => caller(admin).pins.remove({ pinId: pin.id }));
    expect(removed.error).toBeUndefined();
    expect(removed.value).toEqual({ ok: true });
    expect(removed.ms).toBeLessThan(4_000);
    expect(await web.deps.db.pin.count({ where: { id: pin.id } })).toBe(0);

    // Sign-in counts the attempt in Redis before checking the password: with Redis down it is
    // refused (503), never let through uncounted, and no session is made.
    const sessionsBefore = await web.deps.db.session.count();
    const signIn = await timed(() => caller(undefined).auth.signIn({ email: 'admin@outage.test', password: 'a long enough password' }));
    expect503(signIn.error, /Redis .* is unreachable/);
    expect(signIn.ms).toBeLessThan(5_000);
    expect(await web.deps.db.session.count()).toBe(sessionsBefore);

    redis = await startRedisServer({ port: redis.port });
    // Both connections find Redis again by themselves.
    await expect.poll(() => web.deps.redis.ping().catch(() => 'down'), { timeout: 10_000 }).toBe('PONG');
    await expect.poll(() => control.deps.queues.add('reconcile', { scope: 'all', reason: 'test' }).then(() => 'queued', () => 'down'), { timeout: 10_000 }).toBe('queued');
  });

  /** Publishes node.updated(nodeId) every 100 ms until `read` yields, for at most `timeoutMs`. */
  async function publishUntil(read: Promise<IteratorResult<FleetEvent>>, nodeId: string, timeoutMs = 5_000): Promise<FleetEvent | undefined> {
    let settled = false;
    const result = read.finally(() => (settled = true));
    const deadline = Date.now() + timeoutMs;
    while (!settled && Date.now() < deadline) {
      await control.deps.events.publish({ type: 'node.updated', nodeId });
      await Promise.race([result, new Promise((r) => setTimeout(r, 100))]);
    }
    if (!settled) throw new Error(`the stream got no event within ${timeoutMs} ms`);
    return (await result).value as FleetEvent | undefined;
  }

  it('ends browser event streams when Redis drops, refuses new ones quickly while it is down, and resumes after it returns', async () => {
    const received: FleetEvent[] = [];
    const stopListening = await control.hub.listen((event) => received.push(event));
    const abort = new AbortController();
    const stream = web.hub.stream(abort.signal);
    // The stream subscribes on its first read: publish until it has one.
    expect(await publishUntil(stream.next(), 'before')).toEqual({ type: 'node.updated', nodeId: 'before' });
    // The control hub listens on a Redis connection of its own, which may deliver a moment later.
    await expect.poll(() => received.some((e) => e.type === 'node.updated' && e.nodeId === 'before'), { timeout: 5_000 }).toBe(true);

    await redis.stop('SIGKILL');
    // Events already received are still delivered (the poll above may have published a few), then the stream ends.
    const ended = await timed(async () => {
      for (let i = 0; i < 50; i++) if ((await stream.next()).done) return;
    });
    expect(ended.error).toBeInstanceOf(ServiceUnavailableError);
    expect(String((ended.error as Error).message)).toMatch(/Redis is unreachable/);

    const refused = await timed(() => web.hub.stream().next());
    expect(refused.error).toBeInstanceOf(ServiceUnavailableError);
    expect(refused.ms).toBeLessThan(4_000);

    redis = await startRedisServer({ port: redis.port });
    // A new stream works, and the long-lived listener was resubscribed without doing anything.
    const again = web.hub.stream(abort.signal);
    expect(await publishUntil(again.next(), 'after', 15_000)).toEqual({ type: 'node.updated', nodeId: 'after' });
    await expect.poll(() => received.some((e) => e.type === 'node.updated' && e.nodeId === 'after'), { timeout: 5_000 }).toBe(true);
    abort.abort();
    stopListening();
  });

  it("recognises an outage thrown by another copy of this module (Next bundles one per layer), and nothing else", () => {
    const foreign = Object.assign(new Error('Live updates were interrupted: Redis is unreachable. Reconnecting.'), { name: 'ServiceUnavailableError', service: 'redis' });
    expect(serviceOutage(foreign)).toMatchObject({ service: 'redis', message: foreign.message });
    expect(serviceOutage(new Error('Wrong email or password.'))).toBeUndefined();
    expect(serviceOutage(Object.assign(new Error('x'), { name: 'ServiceUnavailableError', service: 'mainframe' }))).toBeUndefined();
  });

  it('answers 503 naming the database, quickly, while PostgreSQL is unreachable', async () => {
    const offline = createServiceDeps({ databaseUrl: `postgresql://postgres@127.0.0.1:${await freePort()}/cider`, redisUrl: redis.url, redisPrefix: prefix, secretKey, log: quietLog });
    try {
      for (const call of [() => caller(admin, offline).nodes.page({}) as Promise<unknown>, () => caller(admin, offline).pins.remove({ pinId: randomUUID() })]) {
        const result = await timed(call);
        expect503(result.error, /^The database is unreachable; the dashboard will work again when it is back\.$/);
        expect(result.ms).toBeLessThan(5_000);
      }
      // Over HTTP, where the caller's session is looked up before any procedure runs.
      const handler = createTrpcHandler({ endpoint: '/api/trpc', services: () => offline, trustedProxyHops: 0, forceSecureCookies: false });
      const started = Date.now();
      const response = await handler(new Request(`http://127.0.0.1/api/trpc/nodes.page?input=${encodeURIComponent(JSON.stringify({ json: {} }))}`, { headers: { cookie: `${sessionCookieName}=cs_whatever` } }));
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('5');
      const body = JSON.stringify(await response.json());
      expect(body).toContain('The database is unreachable; the dashboard will work again when it is back.');
      expect(body).not.toMatch(/prisma|127\.0\.0\.1|ECONNREFUSED/i);
    } finally {
      await offline.close();
    }
  });
});
