// The API reference page (/api): signed in, it lists every operation of the served
// /api/v1/openapi.json with a curl example, no request leaves the dashboard's origin (every asset
// is bundled), and axe finds no serious or critical violation.
import { expect, test } from '@playwright/test';
import { seriousViolations } from './axe.ts';
import { signInAsAdmin } from './sign-in.ts';
import { stackInfo } from './stack-info.ts';

test('the API reference lists every operation of openapi.json, offline, accessibly', async ({ page }) => {
  const stack = stackInfo();
  const origin = new URL(stack.webUrl).origin;
  const requests: string[] = [];
  page.on('request', (request) => {
    requests.push(request.url());
  });
  await signInAsAdmin(page, stack);

  const served = await page.request.get(`${stack.webUrl}/api/v1/openapi.json`);
  expect(served.status()).toBe(200);
  const document = (await served.json()) as { paths: Record<string, Record<string, { operationId: string }>> };
  const ids = Object.values(document.paths).flatMap((methods) => Object.values(methods).map((op) => op.operationId));
  expect(ids.length).toBeGreaterThan(20);

  // Reached from Settings -> API tokens (the main navigation stays as the screenshot baselines have it).
  await page.goto(`${stack.webUrl}/settings`);
  await page.locator('#api-tokens').getByRole('link', { name: 'API reference' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'API reference' })).toBeVisible();
  for (const id of ids) {
    await expect(page.locator(`#op-${id.replace(/[^a-zA-Z0-9]+/g, '-')}`), id).toBeVisible();
  }
  const example = page.getByLabel('curl example for pins.create');
  await expect(example).toContainText('curl -sS -X POST "$CIDER_SERVER/api/v1/projects/<project>/pins"');
  await expect(example).toContainText('Authorization: Bearer $CIDER_TOKEN');

  expect(await seriousViolations(page)).toEqual([]);
  const elsewhere = requests.filter((url) => !url.startsWith(origin) && !url.startsWith('data:'));
  expect(elsewhere).toEqual([]);
});
