// web's /metrics as Next.js serves it (the route's GET, called with Request objects) after real
// tRPC calls through the dashboard's handler (real PostgreSQL and Redis): a query that succeeds,
// one refused for want of a session, a mutation with invalid input and a path that is no
// procedure. The counts and latencies appear per procedure with bounded labels, promtool accepts
// the text, and deploy/'s web metric names exist in it.
import { randomBytes } from 'node:crypto';
import { createServiceDeps } from '@cider/api';
import { createTrpcHandler } from '@cider/api/http';
import { useTestDatabase } from '@cider/db/testing';
import { deployMetricNames, exportedNames, promtoolCheckMetrics, sampleValue, useRedisPrefix } from '@cider/services/testing';
import superjson from 'superjson';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GET } from '../app/metrics/route.ts';
import { unknownProcedure, webMetrics } from './metrics.ts';

const database = useTestDatabase();
const redis = useRedisPrefix();
const site = 'http://dashboard.test:3000';
const token = `web-metrics-${randomBytes(12).toString('hex')}`;

function call(path: string, init: { method?: 'GET' | 'POST'; body?: unknown } = {}): Request {
  const method = init.method ?? 'GET';
  return new Request(`${site}/api/trpc/${path}`, {
    method,
    headers: { 'content-type': 'application/json', host: 'dashboard.test:3000', origin: site, 'sec-fetch-site': 'same-origin' },
    ...(method === 'POST' ? { body: JSON.stringify(superjson.serialize(init.body)) } : {}),
  });
}

const scrape = (bearer?: string) => GET(new Request(`${site}/metrics`, bearer ? { headers: { authorization: `Bearer ${bearer}` } } : {}));

describe('web /metrics (the route, after real tRPC calls on PostgreSQL and Redis)', () => {
  let services: ReturnType<typeof createServiceDeps>;
  let handle: (req: Request) => Promise<Response>;
  const previousToken = process.env.CIDER_METRICS_TOKEN;

  beforeAll(() => {
    services = createServiceDeps({ databaseUrl: database.url, redisUrl: redis.url, redisPrefix: redis.prefix, secretKey: randomBytes(32).toString('base64') });
    handle = createTrpcHandler({ endpoint: '/api/trpc', services: () => services, trustedProxyHops: 0, forceSecureCookies: false, observer: webMetrics() });
  });
  afterAll(async () => {
    if (previousToken === undefined) delete process.env.CIDER_METRICS_TOKEN;
    else process.env.CIDER_METRICS_TOKEN = previousToken;
    await services?.close();
  });

  it('is off without CIDER_METRICS_TOKEN and asks for it when set', async () => {
    delete process.env.CIDER_METRICS_TOKEN;
    expect((await scrape(token)).status).toBe(404);
    process.env.CIDER_METRICS_TOKEN = 'short';
    const refused = await scrape('short');
    expect(refused.status).toBe(500);
    expect(await refused.text()).toMatch(/at least 16 characters/);
    process.env.CIDER_METRICS_TOKEN = token;
    expect((await scrape()).status).toBe(401);
    expect((await scrape(`${token}x`)).status).toBe(401);
    expect((await scrape(token)).status).toBe(200);
  });

  it('counts calls per procedure, type and outcome; promtool accepts the text', async () => {
    process.env.CIDER_METRICS_TOKEN = token;
    const before = await (await scrape(token)).text();
    const count = (text: string, labels: Record<string, string>) => sampleValue(text, 'cider_web_api_requests_total', labels) ?? 0;

    expect((await handle(call('auth.me'))).status).toBe(200);
    expect((await handle(call('auth.me'))).status).toBe(200);
    expect((await handle(call('fleet.overview'))).status).toBe(401);
    expect((await handle(call('auth.signIn', { method: 'POST', body: { email: 'not an address', password: '' } }))).status).toBe(400);
    expect((await handle(call('nothing.here'))).status).toBe(404);

    const response = await scrape(token);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const after = await response.text();
    expect(count(after, { procedure: 'auth.me', type: 'query', code: 'OK', via: 'trpc' }) - count(before, { procedure: 'auth.me', type: 'query', code: 'OK', via: 'trpc' })).toBe(2);
    expect(count(after, { procedure: 'fleet.overview', type: 'query', code: 'UNAUTHORIZED', via: 'trpc' }) - count(before, { procedure: 'fleet.overview', type: 'query', code: 'UNAUTHORIZED', via: 'trpc' })).toBe(1);
    expect(count(after, { procedure: 'auth.signIn', type: 'mutation', code: 'BAD_REQUEST', via: 'trpc' }) - count(before, { procedure: 'auth.signIn', type: 'mutation', code: 'BAD_REQUEST', via: 'trpc' })).toBe(1);
    expect(sampleValue(after, 'cider_web_api_request_duration_seconds_count', { procedure: 'auth.me', type: 'query' })).toBeGreaterThanOrEqual(2);
    // A path the router does not have reaches no procedure: counted as unknown, never a label of its own.
    expect(count(after, { procedure: unknownProcedure, type: 'unknown', code: 'NOT_FOUND', via: 'trpc' }) - count(before, { procedure: unknownProcedure, type: 'unknown', code: 'NOT_FOUND', via: 'trpc' })).toBe(1);
    expect(after).not.toContain('nothing.here');

    const result = await promtoolCheckMetrics(after);
    expect(result.output).toBe('');
    expect(result.code).toBe(0);

    const exported = exportedNames(after);
    const used = [...(await deployMetricNames())].filter((name) => name.startsWith('cider_web_'));
    expect(used).not.toEqual([]);
    expect(used.filter((name) => !exported.has(name))).toEqual([]);
  });

  it('collapses a path outside the router to "unknown" (a REST caller could pass anything)', async () => {
    process.env.CIDER_METRICS_TOKEN = token;
    webMetrics().called({ path: 'made.up<script>', type: 'query', via: 'rest', code: 'NOT_FOUND', durationSeconds: 0.01 });
    const text = await (await scrape(token)).text();
    expect(sampleValue(text, 'cider_web_api_requests_total', { procedure: unknownProcedure, type: 'unknown', code: 'NOT_FOUND', via: 'rest' })).toBe(1);
    expect(text).not.toContain('made.up');
  });

  it("labels REST v1 calls with the operation's id (a bounded set, from the contract)", async () => {
    process.env.CIDER_METRICS_TOKEN = token;
    webMetrics().called({ path: 'pins.create', type: 'mutation', via: 'rest', code: 'PRECONDITION_FAILED', durationSeconds: 0.02 });
    const text = await (await scrape(token)).text();
    expect(sampleValue(text, 'cider_web_api_requests_total', { procedure: 'pins.create', type: 'mutation', code: 'PRECONDITION_FAILED', via: 'rest' })).toBe(1);
    const checked = await promtoolCheckMetrics(text);
    expect(checked.output).toBe('');
    expect(checked.code).toBe(0);
  });
});
