// Scripts call the API with a token instead of a session: create one as a signed-in admin, then
// use it from a client that has no cookie at all.
import { expect, request, test } from '@playwright/test';
import { stackInfo } from './stack-info.ts';

test('an API token authenticates tRPC calls without a session; a revoked one does not', async () => {
  const stack = stackInfo();
  const browser = await request.newContext({ baseURL: stack.webUrl });
  const signIn = await browser.post('/api/trpc/auth.signIn', { data: { json: { email: stack.adminEmail, password: stack.adminPassword } } });
  expect(signIn.ok()).toBe(true);
  const created = await browser.post('/api/trpc/tokens.api.create', { data: { json: { name: 'e2e script' } } });
  expect(created.ok()).toBe(true);
  const body = (await created.json()) as { result: { data: { json: { token: string; apiToken: { id: string } } } } };
  const { token } = body.result.data.json;
  const { id } = body.result.data.json.apiToken;
  expect(token).toMatch(/^cat_/);

  const script = await request.newContext({ baseURL: stack.webUrl, extraHTTPHeaders: { authorization: `Bearer ${token}` } });
  const me = await script.get('/api/trpc/auth.me');
  expect(((await me.json()) as { result: { data: { json: { email: string } } } }).result.data.json.email).toBe(stack.adminEmail);
  const overview = await script.get('/api/trpc/fleet.overview');
  expect(overview.status()).toBe(200);

  const anonymous = await request.newContext({ baseURL: stack.webUrl });
  expect((await anonymous.get('/api/trpc/fleet.overview')).status()).toBe(401);

  expect((await browser.post('/api/trpc/tokens.api.revoke', { data: { json: { tokenId: id } } })).ok()).toBe(true);
  expect((await script.get('/api/trpc/fleet.overview')).status()).toBe(401);
  await Promise.all([browser.dispose(), script.dispose(), anonymous.dispose()]);
});
