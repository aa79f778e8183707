// The tRPC endpoint as web serves it (the same handler, called with Request objects) against real
// PostgreSQL and Redis: a batched brute force is refused whole before anything runs, batches are
// capped, other sites' pages can't change anything, throttled sign-ins carry Retry-After, cookies
// are Secure over https, and API tokens can't mint longer-lived tokens.
import { describe, expect, it } from 'vitest';
import superjson from 'superjson';
import { createApiToken } from '../services/access/api-tokens.ts';
import { defaultSignInPolicy, VerificationSlots } from '../services/access/sign-in-throttle.ts';
import { testPassword, useRouterHarness } from '../../testing/test-context.ts';
import { createTrpcHandler, type TrpcHandlerOptions } from './trpc-handler.ts';

const harness = useRouterHarness();
const site = 'http://dashboard.test:3000';

function handler(options: Partial<TrpcHandlerOptions> = {}) {
  return createTrpcHandler({
    endpoint: '/api/trpc',
    services: () => ({ deps: harness.deps, hub: harness.hub }),
    trustedProxyHops: 0,
    forceSecureCookies: false,
    ...options,
  });
}

/** A request as a browser on the dashboard's own page would send it (unless headers say otherwise). */
function post(path: string, body: unknown, headers: Record<string, string> = {}, base = site): Request {
  return new Request(`${base}/api/trpc/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', host: new URL(base).host, origin: base, 'sec-fetch-site': 'same-origin', ...headers },
    body: JSON.stringify(body),
  });
}

const input = (value: unknown) => superjson.serialize(value);

async function signInKeys(): Promise<string[]> {
  return harness.deps.redis.keys(`${harness.deps.prefix}:{signin}:*`);
}

describe('tRPC endpoint (real PostgreSQL, Redis)', () => {
  it('refuses a batch of 200 sign-ins whole, before any of them runs', async () => {
    const admin = await harness.user('admin');
    const handle = handler();
    const guesses = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [String(i), input({ email: admin.email, password: i === 199 ? testPassword : `guess ${i}` })]));
    const response = await handle(post(`${Array(200).fill('auth.signIn').join(',')}?batch=1`, guesses));
    expect(response.status).toBe(400);
    expect(response.headers.get('set-cookie')).toBeNull();
    expect(JSON.stringify(await response.json())).toContain('Sign-in calls (auth.*) cannot be batched');
    expect(await signInKeys()).toEqual([]);
    expect(await harness.deps.db.session.count()).toBe(0);

    // Hidden among other calls, URL-encoded, or alone in a batch: refused all the same.
    for (const path of [`fleet.overview,auth.signIn`, `fleet.overview%2Cauth.signIn`, `auth%2EsignIn`, `auth.signIn`]) {
      const batch = await handle(post(`${path}?batch=1`, { 0: input({ email: admin.email, password: testPassword }), 1: input({ email: admin.email, password: testPassword }) }));
      expect(batch.status).toBe(400);
    }
    expect(await signInKeys()).toEqual([]);
    expect(await harness.deps.db.session.count()).toBe(0);

    // The process is fine and a plain sign-in works.
    const single = await handle(post('auth.signIn', input({ email: admin.email, password: testPassword })));
    expect(single.status).toBe(200);
    expect(single.headers.get('set-cookie')).toMatch(/^cider_session=cs_/);
    expect(await harness.deps.db.session.count()).toBe(1);
  });

  it('refuses bodies over 1 MiB with 413, declared or streamed, and stays up', async () => {
    const handle = handler();
    const keysBefore = await signInKeys();
    const big = JSON.stringify(input({ email: 'x@example.com', password: 'p'.repeat(2 * 1024 * 1024) }));
    const declared = await handle(post('auth.signIn', JSON.parse(big) as unknown));
    expect(declared.status).toBe(413);
    const chunk = new TextEncoder().encode('a'.repeat(64 * 1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        // Bounded: at most 64 chunks (4 MiB); the handler must stop reading long before.
        if (sent >= 64) return controller.close();
        sent += 1;
        controller.enqueue(chunk);
      },
    });
    const streamed = await handle(new Request(`${site}/api/trpc/auth.signIn`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: stream, duplex: 'half' } as RequestInit));
    expect(streamed.status).toBe(413);
    expect(sent).toBeLessThan(64);
    expect(await signInKeys()).toEqual(keysBefore);
    // Still answering.
    expect((await handle(new Request(`${site}/api/trpc/auth.me`))).status).toBe(200);
  });

  it('caps every batch at 20 calls', async () => {
    const member = await harness.user('member');
    const { token } = await createApiToken(harness.deps, { userId: member.id, label: member.email }, { userId: member.id, name: 'batcher' });
    const handle = handler();
    const get = (count: number) =>
      handle(new Request(`${site}/api/trpc/${Array(count).fill('tokens.api.list').join(',')}?batch=1&input=${encodeURIComponent(JSON.stringify({}))}`, { headers: { authorization: `Bearer ${token}` } }));
    const ok = await get(20);
    expect(ok.status).toBe(200);
    expect((await ok.json()) as unknown[]).toHaveLength(20);
    const tooMany = await get(21);
    expect(tooMany.status).toBe(400);
    expect(JSON.stringify(await tooMany.json())).toContain('at most 20 calls; this one has 21');
  });

  it("refuses changes sent from another site's page with 403, and changes nothing", async () => {
    const member = await harness.user('member');
    const handle = handler();
    const signedIn = await handle(post('auth.signIn', input({ email: member.email, password: testPassword })));
    const cookie = signedIn.headers.get('set-cookie')!.split(';')[0]!;
    const create = input({ name: 'csrf' });
    const hostile: Record<string, string>[] = [
      { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
      { origin: 'https://evil.example' }, // an older browser: no Sec-Fetch-Site
      { origin: site, 'sec-fetch-site': 'same-site' }, // a sibling subdomain that forged Origin would still be caught
      { origin: 'null' },
      { 'sec-fetch-site': 'cross-site', origin: '' },
      { origin: 'http://dashboard.test:3001' },
    ];
    for (const headers of hostile) {
      const response = await handle(post('tokens.api.create', create, { cookie, ...headers }));
      expect(response.status, JSON.stringify(headers)).toBe(403);
      expect(JSON.stringify(await response.json())).toContain('came from another site');
    }
    // Sign-in from another site is refused too (login CSRF), without counting an attempt.
    const keysBefore = await signInKeys();
    expect((await handle(post('auth.signIn', input({ email: member.email, password: testPassword }), { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' }))).status).toBe(403);
    expect(await signInKeys()).toEqual(keysBefore);
    expect(await harness.deps.db.apiToken.count({ where: { userId: member.id } })).toBe(0);

    // The dashboard's own page, and a proxy that rewrote Host but said where it came from, work.
    expect((await handle(post('tokens.api.create', input({ name: 'same origin' }), { cookie }))).status).toBe(200);
    const proxied = post('tokens.api.create', input({ name: 'behind a proxy' }), { cookie, host: '127.0.0.1:3000', 'x-forwarded-host': 'dashboard.test:3000' });
    expect((await handle(proxied)).status).toBe(200);
    // Reads are not changes: a GET from anywhere is judged by its session alone.
    const read = await handle(new Request(`${site}/api/trpc/tokens.api.list`, { headers: { cookie, origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' } }));
    expect(read.status).toBe(200);
    expect(await harness.deps.db.apiToken.count({ where: { userId: member.id } })).toBe(2);
  });

  it('lets scripts with an API token and no cookie through without Origin checks', async () => {
    const member = await harness.user('member');
    const { token } = await createApiToken(harness.deps, { userId: member.id, label: member.email }, { userId: member.id, name: 'script', expiresInDays: 5 });
    const handle = handler();
    const script = new Request(`${site}/api/trpc/tokens.api.create`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(input({ name: 'child', expiresInDays: 2 })),
    });
    expect((await handle(script)).status).toBe(200);
    // Even with a foreign Origin (a browser can't add the Authorization header for another site).
    expect((await handle(post('tokens.api.create', input({ name: 'child 2', expiresInDays: 1 }), { authorization: `Bearer ${token}`, origin: 'https://elsewhere.example' }))).status).toBe(200);
    // But a token can't mint a longer-lived one, nor create users.
    const longer = await handle(post('tokens.api.create', input({ name: 'longer', expiresInDays: 30 }), { authorization: `Bearer ${token}` }));
    expect(longer.status).toBe(403);
    expect(JSON.stringify(await longer.json())).toContain("can't outlive it");
    expect(await harness.deps.db.apiToken.count({ where: { userId: member.id } })).toBe(3);
  });

  it('answers throttled sign-ins with 429 and Retry-After, per client address behind a trusted proxy', async () => {
    const member = await harness.user('member');
    const policy = { ...defaultSignInPolicy, account: { ...defaultSignInPolicy.account, freeFailures: 100 }, address: { ...defaultSignInPolicy.address, freeFailures: 2 } };
    const handle = handler({ trustedProxyHops: 1, authPolicy: { signIn: policy } });
    const from = (address: string, password = 'wrong password') => handle(post('auth.signIn', input({ email: member.email, password }), { 'x-forwarded-for': `10.9.9.9, ${address}` }));
    expect((await from('203.0.113.50')).status).toBe(401);
    expect((await from('203.0.113.50')).status).toBe(401);
    const throttled = await from('203.0.113.50');
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get('retry-after')).toBe('1');
    expect(JSON.stringify(await throttled.json())).toContain('Too many failed sign-ins. Try again in 1 second.');
    // The client-claimed entry before the proxy's doesn't matter; another real address is not slowed.
    const other = await from('203.0.113.51', testPassword);
    expect(other.status).toBe(200);
  });

  it('turns a flood of parallel sign-ins away with 429 at once while other calls are answered', async () => {
    const member = await harness.user('member');
    const { token } = await createApiToken(harness.deps, { userId: member.id, label: member.email }, { userId: member.id, name: 'reader' });
    const handle = handler({ authPolicy: { verificationSlots: new VerificationSlots(2) } });
    const flood = Promise.all(Array.from({ length: 50 }, (_, i) => handle(post('auth.signIn', input({ email: `flood-${i}@example.com`, password: 'guess' })))));
    const read = handle(new Request(`${site}/api/trpc/tokens.api.list`, { headers: { authorization: `Bearer ${token}` } }));
    const [responses, list] = await Promise.all([flood, read]);
    expect(list.status).toBe(200);
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(40);
    expect(statuses.every((s) => s === 429 || s === 401)).toBe(true);
    expect(responses.find((r) => r.status === 429)!.headers.get('retry-after')).toBe('1');
  });

  it('marks the session cookie Secure when the browser came over https', async () => {
    const member = await harness.user('member');
    const signInFrom = async (request: Request, options: Partial<TrpcHandlerOptions> = {}) =>
      (await handler(options)(request)).headers.get('set-cookie') ?? '';
    const body = input({ email: member.email, password: testPassword });
    expect(await signInFrom(post('auth.signIn', body))).not.toMatch(/Secure/);
    expect(await signInFrom(post('auth.signIn', body, {}, 'https://dashboard.test'))).toMatch(/; Secure/);
    // X-Forwarded-Proto counts behind a trusted proxy.
    expect(await signInFrom(post('auth.signIn', body, { 'x-forwarded-proto': 'https' }), { trustedProxyHops: 1 })).toMatch(/; Secure/);
    expect(await signInFrom(post('auth.signIn', body, { 'x-forwarded-proto': 'http' }), { trustedProxyHops: 1 })).not.toMatch(/Secure/);
    // CIDER_SECURE_COOKIES forces it on.
    expect(await signInFrom(post('auth.signIn', body), { forceSecureCookies: true })).toMatch(/; Secure/);
  });
});
