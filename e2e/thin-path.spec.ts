// The thin path through the dashboard, as an admin would walk it: sign in, connect the registry,
// create a project, pin the demo image, and watch every demo node reach it live, with no reload.
// The global setup starts the stack and describes it in test-results/stack.json.
import { expect, test } from '@playwright/test';
import { stackInfo } from './stack-info.ts';

// Read when the test runs, not when the file loads: Playwright collects specs before the
// global setup has written the file.

/** How the dashboard shows a digest: the algorithm and the first 12 hex characters. */
function shortDigest(digest: string): string {
  const [algorithm, hex = ''] = digest.split(':');
  return `${algorithm}:${hex.slice(0, 12)}`;
}

type MarkedWindow = Window & { __noReload?: boolean };

test('sign in, connect a registry, create a project, pin an image and see it reach every node', async ({ page }) => {
  const stack = stackInfo();

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
    await form.getByRole('button', { name: 'Create project' }).click();
    await expect(page.getByRole('heading', { level: 1, name: 'ios-ci' })).toBeVisible();
  });

  // From here on the page must update itself: a reload would drop this marker.
  await page.evaluate(() => {
    (window as MarkedWindow).__noReload = true;
  });

  await test.step('bad references are explained, the demo image is pinned', async () => {
    const form = page.getByRole('form', { name: 'Pin an image' });
    const reference = form.getByLabel('Image reference');

    await reference.fill(`${stack.registryHost}/Demo/macOS:15.2`);
    await form.getByRole('button', { name: 'Pin image' }).click();
    await expect(form.getByRole('alert')).toHaveText(/Invalid reference/);

    await reference.fill(`${stack.registryHost}/demo/macos:99.9`);
    await form.getByRole('button', { name: 'Pin image' }).click();
    await expect(form.getByRole('alert')).toHaveText(/not found/);

    await reference.fill(stack.demoReference);
    await form.getByRole('button', { name: 'Pin image' }).click();
    await expect(form.getByRole('status')).toContainText(shortDigest(stack.demoDigest));
  });

  await test.step('every node shows the pinned digest in sync, live', async () => {
    for (const node of stack.nodes) {
      const row = page.locator(`tr[data-node="${node}"]`);
      await expect(row).toContainText('In sync', { timeout: 90_000 });
      await expect(row).toContainText(shortDigest(stack.demoDigest));
      await expect(row.locator(`[data-digest="${stack.demoDigest}"]`)).toBeVisible();
    }
    expect(await page.evaluate(() => (window as MarkedWindow).__noReload)).toBe(true);
  });

  await page.screenshot({ path: 'test-results/thin-path.png', fullPage: true });
});
