// Secure defaults against the running stack, in Chromium: every page renders under the
// Content-Security-Policy with no violation and no console error, live updates (SSE) connect,
// pages carry the security headers, /healthz says only ok, a batched brute force and a
// cross-site change are refused by the real route.
import { request as httpRequest } from 'node:http';
import { expect, request, test } from '@playwright/test';
import { stackInfo } from './stack-info.ts';

test('every page renders under the CSP with no violation, and live updates connect', async ({ page }) => {
  const stack = stackInfo();
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  // Violations are reported to the page as events; collect them from every document.
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (event) => {
      console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI}`);
    });
  });

  const signInPage = await page.goto(`${stack.webUrl}/sign-in`);
  const headers = signInPage!.headers();
  expect(headers['content-security-policy']).toMatch(/script-src 'self' 'nonce-[A-Za-z0-9+/=]+' 'strict-dynamic'/);
  expect(headers['content-security-policy']).toContain("frame-ancestors 'none'");
  expect(headers['x-frame-options']).toBe('DENY');
  expect(headers['x-content-type-options']).toBe('nosniff');
  expect(headers['referrer-policy']).toBe('same-origin');
  // Plain http here: no HSTS (it is sent only when the browser came over https).
  expect(headers['strict-transport-security']).toBeUndefined();

  // The live event stream opens once the dashboard loads.
  const stream = page.waitForResponse((response) => response.url().includes('/api/trpc/events.stream') && response.status() === 200);
  const form = page.getByRole('form', { name: 'Sign in' });
  await form.getByLabel('Email').fill(stack.adminEmail);
  await form.getByLabel('Password').fill(stack.adminPassword);
  await form.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Overview' })).toBeVisible();
  expect((await stream).headers()['content-type']).toContain('text/event-stream');

  for (const [path, heading] of [
    ['/nodes', 'Nodes'],
    ['/images', 'Images'],
    ['/jobs', 'Jobs'],
    ['/projects', 'Projects'],
    ['/registries', 'Registries'],
    ['/settings', 'Settings'],
    ['/audit', 'Audit log'],
    ['/no-such-page', 'Not found'],
  ] as const) {
    const response = await page.goto(`${stack.webUrl}${path}`);
    expect(response!.headers()['content-security-policy'], path).toMatch(/'nonce-/);
    await expect(page.getByRole('heading', { level: 1, name: heading })).toBeVisible();
  }
  // Client-side navigation runs scripts too: a click through the menu still works.
  await page.goto(`${stack.webUrl}/jobs`);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Nodes' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Nodes' })).toBeVisible();
  expect(problems.filter((p) => !p.includes('404'))).toEqual([]);
});

test('the real tRPC route refuses a batched brute force and cross-site changes; /healthz says ok', async () => {
  const stack = stackInfo();
  const client = await request.newContext({ baseURL: stack.webUrl });
  const guesses = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [String(i), { json: { email: stack.adminEmail, password: `guess ${i}` } }]));
  const batch = await client.post(`/api/trpc/${Array(200).fill('auth.signIn').join(',')}?batch=1`, { data: guesses });
  expect(batch.status()).toBe(400);
  expect(await batch.text()).toContain('Sign-in calls (auth.*) cannot be batched');
  expect(batch.headers()['set-cookie']).toBeUndefined();

  const signIn = await client.post('/api/trpc/auth.signIn', { data: { json: { email: stack.adminEmail, password: stack.adminPassword } } });
  expect(signIn.ok()).toBe(true);
  const crossSite = await client.post('/api/trpc/tokens.api.create', {
    data: { json: { name: 'cross-site' } },
    headers: { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
  });
  expect(crossSite.status()).toBe(403);
  const tokens = await client.get('/api/trpc/tokens.api.list');
  expect(await tokens.text()).not.toContain('cross-site');
  // API responses carry the fixed headers too.
  expect(tokens.headers()['content-security-policy']).toBe("default-src 'none'; frame-ancestors 'none'");
  expect(tokens.headers()['x-content-type-options']).toBe('nosniff');

  const health = await client.get('/healthz');
  expect(health.status()).toBe(200);
  expect(await health.text()).toBe('ok\n');
  await client.dispose();
});

/** One sign-in attempt over node:http from a loopback address of its own, so other specs' sign-ins from 127.0.0.1 are not slowed. */
function signInFrom(localAddress: string, webUrl: string, email: string, forwardedFor: string): Promise<{ status: number; retryAfter?: string }> {
  const body = JSON.stringify({ json: { email, password: 'not the password' } });
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      new URL('/api/trpc/auth.signIn', webUrl),
      { method: 'POST', localAddress, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-forwarded-for': forwardedFor, 'x-cider-peer': forwardedFor } },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined }));
      },
    );
    req.on('error', reject);
    req.setTimeout(30_000, () => req.destroy(new Error('sign-in attempt timed out')));
    req.end(body);
  });
}

test('a client that forges X-Forwarded-For is still limited by its real address', async () => {
  const stack = stackInfo();
  // A fresh account name and a fresh forged address each time: only the real address (the
  // socket's, stamped by server.mjs whatever the client sends) ties the attempts together.
  const answers = [];
  for (let i = 0; i < 11; i++) {
    answers.push(await signInFrom('127.0.0.77', stack.webUrl, `nobody-${i}@forged.test`, `198.51.100.${i + 1}`));
  }
  // The address may fail 10 times freely; the 11th attempt must wait.
  expect(answers.slice(0, 10).map((a) => a.status)).toEqual(Array(10).fill(401));
  expect(answers[10]!.status).toBe(429);
  expect(Number(answers[10]!.retryAfter)).toBeGreaterThan(0);
});
