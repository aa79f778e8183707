// The nodes list as a fleet grows (issue 14, items 4 and 7): 60 Macs of this spec's own (enrolled
// over HTTP, never connected) are searched by name, paged 50 at a time, filtered by site, sorted by
// free disk both ways; the view is in the URL and survives a reload. Then the jobs page's node
// filter finds a node by typing part of its name. The spec's nodes are revoked at the end, so the
// specs after it see the fleet as it was.
import type { HostFacts } from '@cider/protocol';
import { expect, test, type Page } from '@playwright/test';
import { mutate } from './api.ts';
import { enrollNode } from './sim-nodes.ts';
import { signInAsAdmin } from './sign-in.ts';
import { stackInfo } from './stack-info.ts';

async function screenshot(page: Page, name: string) {
  await page.screenshot({ path: `test-results/nodes-at-scale-${name}.png`, fullPage: true });
}

const GiB = 1024 ** 3;
const count = 60;
const name = (i: number) => `scale-spec-${String(i).padStart(2, '0')}`;
const site = (i: number) => (i % 2 ? 'scale-spec-muc' : 'scale-spec-ber');

function facts(i: number): HostFacts {
  return {
    hostname: name(i),
    os: { platform: 'macOS', release: '24.2.0', version: '15.2' },
    architecture: 'arm64',
    cpu: { model: 'Apple M2', cores: 8 },
    memoryBytes: 16 * GiB,
    disk: { totalBytes: 500 * GiB, freeBytes: (i + 1) * GiB },
    cache: { path: '/Library/Caches/Cider', bytes: 0 },
    conditions: [],
  };
}

const rowNames = (page: Page) => page.getByRole('table', { name: 'Nodes' }).locator('tbody tr').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-node')));

test('the nodes list searches, filters, sorts and pages on the server, and the jobs page finds a node by typing', async ({ page }) => {
  const stack = stackInfo();
  await signInAsAdmin(page, stack);
  const api = page.request;
  const nodeIds: string[] = [];

  try {
    await test.step(`enroll ${count} Macs of this spec's own`, async () => {
      const { token } = await mutate<{ token: string }>(api, stack.webUrl, 'tokens.enrollment.create', { name: 'nodes at scale', usesLeft: count });
      for (let i = 0; i < count; i++) {
        nodeIds.push((await enrollNode(stack.controlUrl, token, { name: name(i), labels: { 'scale-spec': 'yes', site: site(i) }, facts: facts(i) })).nodeId);
      }
    });

    const nodes = page.getByRole('table', { name: 'Nodes' });
    const pager = page.getByRole('navigation', { name: 'Pages of nodes' });
    const filters = page.getByRole('search', { name: 'Filter nodes' });

    await test.step('search by name: 50 on the first page, the other 10 on the next', async () => {
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Nodes' }).click();
      await expect(page.getByRole('heading', { level: 1, name: 'Nodes' })).toBeVisible();
      await filters.getByLabel('Name').fill('SCALE-SPEC');
      await filters.getByLabel('Name').press('Enter');
      await expect(pager).toContainText('1–50 of 60 nodes');
      expect(await rowNames(page)).toEqual(Array.from({ length: 50 }, (_, i) => name(i)));
      await pager.getByRole('button', { name: 'Next page' }).click();
      await expect(pager).toContainText('51–60 of 60 nodes · page 2 of 2');
      await expect(page).toHaveURL(/[?&]page=2/);
      expect(await rowNames(page)).toEqual(Array.from({ length: 10 }, (_, i) => name(50 + i)));
      await expect(pager.getByRole('button', { name: 'Next page' })).toBeDisabled();
    });

    await test.step('filter by site and state, sort by free disk both ways', async () => {
      await filters.getByLabel('Site').fill('scale-spec-muc');
      await filters.getByRole('button', { name: 'Filter', exact: true }).click();
      await expect(pager).toContainText('1–30 of 30 nodes');
      await filters.getByLabel('State').selectOption('offline');
      await expect(pager).toContainText('1–30 of 30 nodes');
      const diskFree = nodes.getByRole('columnheader', { name: 'Disk free' });
      await diskFree.getByRole('button').click();
      await expect(diskFree).toHaveAttribute('aria-sort', 'ascending');
      await expect(nodes.locator('tbody tr').first()).toHaveAttribute('data-node', name(1));
      await diskFree.getByRole('button').click();
      await expect(diskFree).toHaveAttribute('aria-sort', 'descending');
      await expect(nodes.locator('tbody tr').first()).toHaveAttribute('data-node', name(59));
      await expect(nodes.locator('tbody tr').first()).toContainText('60.0 GiB');
      await expect(nodes.getByRole('columnheader', { name: 'Name' })).not.toHaveAttribute('aria-sort', /.*/);
      await screenshot(page, 'filtered');
    });

    await test.step('the view is in the URL and survives a reload', async () => {
      await expect(page).toHaveURL(/q=SCALE-SPEC/);
      await expect(page).toHaveURL(/site=scale-spec-muc/);
      await expect(page).toHaveURL(/state=offline/);
      await expect(page).toHaveURL(/sort=diskFree&dir=desc/);
      await page.reload();
      await expect(pager).toContainText('1–30 of 30 nodes');
      await expect(nodes.locator('tbody tr').first()).toHaveAttribute('data-node', name(59));
      await expect(nodes.getByRole('columnheader', { name: 'Disk free' })).toHaveAttribute('aria-sort', 'descending');
      await expect(filters.getByLabel('Name')).toHaveValue('SCALE-SPEC');
      await expect(filters.getByLabel('Site')).toHaveValue('scale-spec-muc');
      await expect(filters.getByLabel('State')).toHaveValue('offline');
    });

    await test.step('a sync filter shows only nodes in that sync state, and a label filter narrows by label', async () => {
      await filters.getByLabel('Sync').selectOption('behind');
      await expect(page).toHaveURL(/sync=behind/);
      await expect(async () => {
        const states = await nodes.locator('tbody tr').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-sync')));
        const empty = await page.getByText('No node matches these filters.').isVisible();
        expect(empty || (states.length > 0 && states.every((s) => s === 'behind'))).toBe(true);
      }).toPass();
      await filters.getByRole('button', { name: 'Clear filters' }).click();
      await filters.getByLabel('Label').fill('scale-spec=yes');
      await filters.getByLabel('Label').press('Enter');
      await expect(pager).toContainText('of 60 nodes');
    });

    await test.step('the jobs page finds a node by typing part of its name', async () => {
      const target = stack.nodes[0]!;
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Jobs' }).click();
      await expect(page.getByRole('heading', { level: 1, name: 'Jobs' })).toBeVisible();
      const field = page.getByRole('combobox', { name: 'Node' });
      const typed = target.slice(0, Math.max(3, target.length - 1));
      await field.fill(typed);
      const options = page.getByRole('listbox', { name: 'Nodes matching' });
      await expect(options.getByRole('option', { name: target, exact: true })).toBeVisible();
      await expect.poll(async () => (await options.getByRole('option').allTextContents()).every((n) => n.includes(typed))).toBe(true);
      expect(await options.getByRole('option').count()).toBeLessThanOrEqual(20);
      await field.press('ArrowDown');
      await screenshot(page, 'jobs-node-search');
      await expect(field).toHaveAttribute('aria-activedescendant', /.+/);
      // Pick the target with the keyboard, wherever it is in the list.
      const names = await options.getByRole('option').allTextContents();
      for (let i = 0; i < names.indexOf(target); i++) await field.press('ArrowDown');
      await field.press('Enter');
      await expect(field).toHaveValue(target);
      await expect(page).toHaveURL(/[?&]node=[0-9a-f-]{36}/);
      await expect(options).toBeHidden();
      await expect(async () => {
        const jobNodes = await page.locator('tr[data-job]').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-node')));
        expect(jobNodes.every((n) => n === target)).toBe(true);
      }).toPass();
      await page.reload();
      await expect(page.getByRole('combobox', { name: 'Node' })).toHaveValue(target);
      await screenshot(page, 'jobs');
    });
  } finally {
    for (const nodeId of nodeIds) await mutate(api, stack.webUrl, 'nodes.revoke', { nodeId });
  }
});
