// Every page of the dashboard passes axe-core's WCAG 2 A/AA rules with no serious or critical
// violation: the sign-in page, each page of the main navigation, and one of each detail page
// (node, project, repository, tag), reached by following the links a person would follow.
import { expect, test, type Page } from '@playwright/test';
import { connectLocalRegistry, mutate, query } from './api.ts';
import { seriousViolations } from './axe.ts';
import { signInAsAdmin } from './sign-in.ts';
import { stackInfo } from './stack-info.ts';

/** Soft: one run reports every page's violations, not only the first page's. */
async function expectAccessible(page: Page, name: string) {
  // Checked once the data is in (the live event stream keeps the network busy, so not "idle").
  await expect(page.locator('main').getByText(/^Loading .*…$/)).toHaveCount(0);
  expect.soft(await seriousViolations(page), `axe on ${name}`).toEqual([]);
}

/** The first link on the page whose path starts with `prefix` (and is longer than it). */
async function firstLinkUnder(page: Page, prefix: string): Promise<string> {
  const link = page.locator(`main a[href^="${prefix}"]`).first();
  await expect(link).toBeVisible();
  const href = await link.getAttribute('href');
  if (!href || href === prefix) throw new Error(`no link under ${prefix}`);
  return href;
}

test('every page has no serious or critical accessibility violation', async ({ page }) => {
  test.setTimeout(240_000);
  const stack = stackInfo();

  await page.goto(`${stack.webUrl}/sign-in`);
  await expect(page.getByRole('form', { name: 'Sign in' })).toBeVisible();
  await expectAccessible(page, '/sign-in');
  await signInAsAdmin(page, stack);

  // A registry and a project of this spec's own, so every detail page has something to show.
  const api = page.request;
  await connectLocalRegistry(api, stack);
  const teams = await query<{ id: string }[]>(api, stack.webUrl, 'teams.list');
  const projects = await query<{ name: string }[]>(api, stack.webUrl, 'projects.list');
  if (!projects.some((p) => p.name === 'a11y-check')) {
    await mutate(api, stack.webUrl, 'projects.create', { name: 'a11y-check', teamId: teams[0]!.id, nodeSelector: '' });
  }

  const nav = page.getByRole('navigation', { name: 'Main' });
  for (const label of ['Overview', 'Projects', 'Nodes', 'Images', 'Registries', 'Jobs', 'Audit log', 'Settings']) {
    await nav.getByRole('link', { name: label, exact: true }).click();
    await expect(page.getByRole('heading', { level: 1 })).toBeVisible();
    await expectAccessible(page, label);
  }

  for (const [list, prefix] of [['/nodes', '/nodes/'], ['/projects', '/projects/']] as const) {
    await page.goto(`${stack.webUrl}${list}`);
    await page.goto(`${stack.webUrl}${await firstLinkUnder(page, prefix)}`);
    await expect(page.getByRole('heading', { level: 1 })).toBeVisible();
    await expectAccessible(page, `a page under ${prefix}`);
  }

  // Images: a registry, the demo repository, then its tag.
  await page.goto(`${stack.webUrl}/images`);
  await page.goto(`${stack.webUrl}${await firstLinkUnder(page, '/images/')}`);
  await expectAccessible(page, 'a registry’s repositories');
  const repository = stack.demoReference.slice(stack.registryHost.length + 1).split(':')[0]!;
  await page.locator('main a', { hasText: repository }).first().click();
  await expect(page.getByRole('heading', { level: 1 })).toBeVisible();
  await expectAccessible(page, 'a repository');
  await page.locator('main a[href*="/-/tags/"]').first().click();
  await expect(page.getByRole('heading', { level: 1 })).toBeVisible();
  await expectAccessible(page, 'a tag');
});
