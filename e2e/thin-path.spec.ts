// The thin path through the dashboard, as an admin would walk it: sign in, connect the registry,
// create a project, pin an image and watch every demo node reach it live, with no reload.
// The global setup starts the stack and describes it in test-results/stack.json.
import { randomBytes } from 'node:crypto';
import { expect, test } from '@playwright/test';
import { pushFreshImage } from './images.ts';
import { stackInfo } from './stack-info.ts';

// Read when the test runs, not when the file loads: Playwright collects specs before the
// global setup has written the file.

/** How the dashboard shows a digest: the algorithm and the first 12 hex characters. */
function shortDigest(digest: string): string {
  const [algorithm, hex = ''] = digest.split(':');
  return `${algorithm}:${hex.slice(0, 12)}`;
}

type MarkedWindow = Window & { __noReload?: boolean };

/**
 * The rollout table also refetches every 30 s (apps/web/src/components/project/rollout-table.tsx),
 * counted from when it mounted. Whatever it shows before that first refetch came from the pin's
 * own answer or from a pushed event, so the live step must finish inside this window; were this
 * interval shortened, the window must shrink with it.
 */
const rolloutRefetchMs = 30_000;

test('sign in, connect a registry, create a project, pin an image and see it reach every node', async ({ page }) => {
  const stack = stackInfo();
  const fresh = await pushFreshImage(stack.registryHost, {
    repository: `live/thin-path-${randomBytes(4).toString('hex')}`,
    tag: '15.3',
    fileName: 'UniversalMac_15.3_24D60_Restore.ipsw',
    bytes: 512 * 1024,
  });
  let tableMountedAfter = 0;

  await test.step('a wrong password is refused, the right one signs in', async () => {
    await page.goto(`${stack.webUrl}/sign-in`);
    const form = page.getByRole('form', { name: 'Sign in' });
    await form.getByLabel('Email').fill(stack.adminEmail);
    await form.getByLabel('Password').fill('not-the-password');
    await form.getByRole('button', { name: 'Sign in' }).click();
    await expect(form.getByRole('alert')).toHaveText('Wrong email or password.');

    await form.getByLabel('Password').fill(stack.adminPassword);
    await form.getByRole('button', { name: 'Sign in' }).click();
    await expect(page).toHaveURL(`${stack.webUrl}/`);
    await expect(page.getByRole('heading', { level: 1, name: 'Overview' })).toBeVisible();
  });

  await test.step('an unreachable registry is refused, the real one is added', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Registries' }).click();
    const form = page.getByRole('form', { name: 'Add a registry' });
    await form.getByLabel('Name', { exact: true }).fill('unreachable');
    await form.getByLabel('Host', { exact: true }).fill('127.0.0.1:1');
    await form.getByLabel('Plain HTTP').check();
    await form.getByRole('button', { name: 'Add registry' }).click();
    await expect(form.getByRole('alert')).toContainText('Cannot reach registry');

    await form.getByLabel('Name', { exact: true }).fill('local');
    await form.getByLabel('Host', { exact: true }).fill(stack.registryHost);
    await expect(form.getByLabel('Plain HTTP')).toBeChecked();
    await form.getByRole('button', { name: 'Add registry' }).click();
    await expect(form.getByRole('status')).toContainText('Added registry local');
    await expect(page.locator('[data-registry="local"]')).toContainText(stack.registryHost);
  });

  await test.step('a project for every node is created', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Projects' }).click();
    const form = page.getByRole('form', { name: 'New project' });
    await form.getByLabel('Name', { exact: true }).fill('ios-ci');
    await expect(form.getByLabel('Node selector')).toHaveValue('');
    tableMountedAfter = Date.now();
    await form.getByRole('button', { name: 'Create project' }).click();
    await expect(page.getByRole('heading', { level: 1, name: 'ios-ci' })).toBeVisible();
  });

  // From here on the page must update itself: a reload would drop this marker.
  await page.evaluate(() => {
    (window as MarkedWindow).__noReload = true;
  });

  await test.step('bad references are explained, a fresh image is pinned', async () => {
    const form = page.getByRole('form', { name: 'Pin an image' });
    const reference = form.getByLabel('Image reference');

    await reference.fill(`${stack.registryHost}/Demo/macOS:15.2`);
    await form.getByRole('button', { name: 'Pin image' }).click();
    await expect(form.getByRole('alert')).toHaveText(/Invalid reference/);

    await reference.fill(`${stack.registryHost}/demo/macos:99.9`);
    await form.getByRole('button', { name: 'Pin image' }).click();
    await expect(form.getByRole('alert')).toHaveText(/not found/);

    await reference.fill(fresh.reference);
    await form.getByRole('button', { name: 'Pin image' }).click();
    await expect(form.getByRole('status')).toContainText(shortDigest(fresh.digest));
  });

  await test.step('every node shows the pinned digest in sync, live', async () => {
    // Before the table's first 30 s refetch: only the events pushed to the page can bring it here.
    const deadline = tableMountedAfter + rolloutRefetchMs - 1_000;
    for (const node of stack.nodes) {
      const cell = page.locator(`tr[data-node="${node}"] [data-digest="${fresh.digest}"]`);
      await expect(cell).toContainText('In sync', { timeout: Math.max(1, deadline - Date.now()) });
      await expect(cell).toContainText(shortDigest(fresh.digest));
    }
    expect(await page.evaluate(() => (window as MarkedWindow).__noReload)).toBe(true);
  });

  await page.screenshot({ path: 'test-results/thin-path.png', fullPage: true });
});
