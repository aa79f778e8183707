// Tables that read well and words for humans (issue 14, items 4, 5 and 7's other long lists), in
// a real browser on a narrow window: references, digests and node names stay on one line (each
// token is one line high) with the whole value in a tooltip and a copy button that copies it;
// a project serving 55 Macs pages its rollout rows and filters "only not in sync" and by name; a
// tag page pages the nodes holding it; a sync job's live phase reads "Preparing for VMs"; the
// audit log names its targets and says "Name: before → after", within a time range; the node
// page's disk bar has its own colour and a legend. The spec's Macs are revoked at the end.
import { randomBytes } from 'node:crypto';
import type { ControlMessage } from '@cider/protocol';
import { expect, test, type Locator, type Page } from '@playwright/test';
import type { SimAgent } from '../apps/control/testing/wire.ts';
import { connectLocalRegistry, localRegistryHost, mutate, query } from './api.ts';
import { connectSimAgent, enrollNode } from './sim-nodes.ts';
import { signInAsAdmin } from './sign-in.ts';
import { stackInfo } from './stack-info.ts';

async function screenshot(page: Page, name: string) {
  await page.screenshot({ path: `test-results/tables-and-words-${name}.png`, fullPage: true });
}

/** Every token inside `scope` is exactly one line high: nothing wrapped mid-token. */
async function expectOneLineTokens(scope: Locator, atLeast: number) {
  const heights = await scope.locator('.token').evaluateAll((tokens) =>
    tokens.map((token) => {
      const text = token.querySelector('.token-text') as HTMLElement;
      const style = getComputedStyle(text);
      const line = Number.parseFloat(style.lineHeight) || Number.parseFloat(style.fontSize) * 1.5;
      return { value: token.getAttribute('title'), height: text.getBoundingClientRect().height, line };
    }),
  );
  expect(heights.length).toBeGreaterThanOrEqual(atLeast);
  for (const token of heights) expect(token.height, `${token.value} is on one line`).toBeLessThan(token.line * 1.6);
}

// Narrow enough that long references would wrap if they could.
test.use({ viewport: { width: 900, height: 900 }, permissions: ['clipboard-read', 'clipboard-write'] });

test('tokens stay on one line with tooltip and copy; rollout rows and holders page; states, audit and the disk bar read plainly', async ({ page }) => {
  const stack = stackInfo();
  const suffix = randomBytes(3).toString('hex');
  const label = `tables-${suffix}`;
  const api = page.request;
  const agents: SimAgent[] = [];
  const nodeIds: string[] = [];
  let projectId = '';
  let fetcherJob = '';
  const longName = `${label}-a-rather-long-build-host-name-in-rack-7`;
  // The demo image through the registry's shared localhost name (see connectLocalRegistry).
  const reference = stack.demoReference.replace(stack.registryHost, localRegistryHost(stack.registryHost));

  try {
    await test.step('the admin signs in; a project of its own serves 55 Macs, two hold its pin and one is fetching it', async () => {
      await signInAsAdmin(page, stack);
      await connectLocalRegistry(api, stack);
      const team = (await query<{ id: string; name: string }[]>(api, stack.webUrl, 'teams.list')).find((t) => t.name === 'Platform');
      expect(team, 'the seeded Platform team').toBeDefined();
      projectId = (await mutate<{ id: string }>(api, stack.webUrl, 'projects.create', { name: `tables-${suffix}`, teamId: team!.id, nodeSelector: `tables-spec=${label}` })).id;
      await mutate(api, stack.webUrl, 'pins.set', { projectId, reference: reference });

      const { token } = await mutate<{ token: string }>(api, stack.webUrl, 'tokens.enrollment.create', { name: `tables ${suffix}`, usesLeft: 55 });
      const names = [`${label}-holder-1`, `${label}-holder-2`, longName, ...Array.from({ length: 52 }, (_, i) => `${label}-mac-${String(i).padStart(2, '0')}`)];
      for (const [i, name] of names.entries()) {
        const node = await enrollNode(stack.controlUrl, token, { name, labels: { 'tables-spec': label } });
        nodeIds.push(node.nodeId);
        if (i >= 3) continue;
        // The first two hold the demo image; the third holds nothing and is sent a sync.
        const images = i < 2 ? [{ digest: stack.demoDigest, reference: reference, tags: ['15.2'], sizeBytes: 32 * 1024 * 1024, verifiedAt: new Date().toISOString() }] : [];
        agents.push(await connectSimAgent(stack.controlUrl, node, { name, images }));
      }
      const sync = (await agents[2]!.next((m) => m.type === 'sync' && m.digest === stack.demoDigest, 30_000)) as Extract<ControlMessage, { type: 'sync' }>;
      fetcherJob = sync.jobId;
    });

    await test.step('the rollout pages 50 rows at a time, filters "only not in sync" and searches by name', async () => {
      await page.goto(`${stack.webUrl}/projects/${projectId}`);
      const rollout = page.locator('section.card').filter({ has: page.getByRole('heading', { name: 'Rollout', exact: true }) });
      await expect(rollout.locator('[data-rollout-summary]')).toHaveText('2 of 55 nodes in sync; 53 not yet.');
      const pages = rollout.getByRole('navigation', { name: 'Pages of nodes' });
      await expect(pages.getByRole('status')).toHaveText('1–50 of 55 nodes · page 1 of 2');
      await expect(rollout.locator('tbody tr')).toHaveCount(50);
      await expectOneLineTokens(rollout.getByRole('table', { name: 'Rollout by node' }), 51);
      await pages.getByRole('button', { name: 'Next page' }).click();
      await expect(pages.getByRole('status')).toHaveText('51–55 of 55 nodes · page 2 of 2');
      await expect(rollout.locator('tbody tr')).toHaveCount(5);
      await screenshot(page, 'rollout');
      // Wide tables scroll inside their own box; no card is pushed wider than the window.
      const overflowing = await page.locator('section.card').evaluateAll((cards) => cards.filter((card) => card.scrollWidth > card.clientWidth + 1).map((card) => card.querySelector('h2')?.textContent));
      expect(overflowing).toEqual([]);

      await rollout.getByRole('checkbox', { name: 'Only not in sync' }).check();
      const behind = rollout.getByRole('navigation', { name: 'Pages of nodes not in sync' });
      await expect(behind.getByRole('status')).toHaveText('1–50 of 53 nodes not in sync · page 1 of 2');
      await expect(rollout.locator('tbody tr[data-in-sync="true"]')).toHaveCount(0);
      await behind.getByRole('button', { name: 'Next page' }).click();
      await expect(behind.getByRole('status')).toHaveText('51–53 of 53 nodes not in sync · page 2 of 2');
      await rollout.getByRole('checkbox', { name: 'Only not in sync' }).uncheck();

      // Ordered on the server: the two holders (in sync) come last with "not in sync first", first the other way.
      const firstByName = await rollout.locator('tbody tr').first().getAttribute('data-node');
      await rollout.getByRole('combobox', { name: 'Order' }).selectOption({ label: 'Not in sync first' });
      await expect(rollout.locator('tbody tr').first()).toHaveAttribute('data-in-sync', 'false');
      await rollout.getByRole('combobox', { name: 'Order' }).selectOption({ label: 'Node name, Z to A' });
      await expect(pages.getByRole('status')).toHaveText('1–50 of 55 nodes · page 1 of 2');
      // A to Z's first node is the last of 55, so on Z to A's second page (names sort by the database's collation).
      await expect(rollout.locator(`tbody tr[data-node="${firstByName}"]`)).toHaveCount(0);
      await rollout.getByRole('combobox', { name: 'Order' }).selectOption({ label: 'Node name, A to Z' });

      await rollout.getByRole('searchbox', { name: 'Node name' }).fill('HOLDER');
      await expect(pages.getByRole('status')).toHaveText('1–2 of 2 nodes');
      await expect(rollout.locator('tbody tr[data-in-sync="true"]')).toHaveCount(2);
      await expect(rollout.locator('tbody tr').first().getByText('In sync')).toBeVisible();
    });

    await test.step('a token shows its whole value as a tooltip and copies it', async () => {
      const pins = page.locator('section.card').filter({ has: page.getByRole('heading', { name: 'Pins', exact: true }) });
      const digest = pins.locator(`.token-digest[title="${stack.demoDigest}"]`);
      await expect(digest.locator('.token-text')).toHaveText(`sha256:${stack.demoDigest.slice(7, 19)}`);
      await digest.hover();
      await digest.getByRole('button', { name: `Copy digest ${stack.demoDigest}` }).click();
      await expect(digest.getByRole('button', { name: `Copy digest ${stack.demoDigest}` })).toHaveText('Copied');
      expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(stack.demoDigest);
      await expect(pins.locator(`.token-reference[title="${reference}"]`)).toBeVisible();
    });

    await test.step('a job\'s live phase reads in plain words, and the jobs table keeps tokens on one line', async () => {
      await page.goto(`${stack.webUrl}/jobs?node=${nodeIds[2]}`);
      const row = page.locator(`tr[data-job="${fetcherJob}"]`);
      await expect(row.getByText('sent to node', { exact: true })).toBeVisible();
      agents[2]!.send({ type: 'sync.progress', jobId: fetcherJob, phase: 'materializing', bytesDone: 16 * 1024 * 1024, bytesTotal: 32 * 1024 * 1024 });
      await expect(row).toContainText('Preparing for VMs · 16.0 MiB of 32.0 MiB (50%)');
      await expect(row).not.toContainText('materializing');
      await expect(row.locator(`.token-name[title="${longName}"]`)).toBeVisible();
      await expectOneLineTokens(page.getByRole('table').first(), 3);

      await page.goto(`${stack.webUrl}/jobs`);
      await expect(page.getByRole('heading', { level: 1, name: 'Jobs' })).toBeVisible();
      await expect(page.locator('tr[data-job]').first()).toBeVisible();
      await expectOneLineTokens(page.locator('table.jobs-table'), 3);
      await screenshot(page, 'jobs');
    });

    await test.step('the tag page pages the nodes holding it, with a count and a name search', async () => {
      const registry = await connectLocalRegistry(api, stack);
      await page.goto(`${stack.webUrl}/images/${registry.id}/demo/macos/-/tags/15.2`);
      const held = page.locator('section.card').filter({ has: page.getByRole('heading', { name: 'On nodes' }) });
      await held.getByRole('searchbox', { name: 'Node name' }).fill(label);
      await expect(held.getByRole('navigation', { name: 'Pages of nodes' }).getByRole('status')).toHaveText('1–2 of 2 nodes');
      await expect(held.locator('tbody tr')).toHaveCount(2);
      await expectOneLineTokens(held, 2);
      // Ordered on the server: Z to A puts the other holder first.
      const firstByName = await held.locator('tbody tr').first().textContent();
      await held.getByRole('combobox', { name: 'Order' }).selectOption({ label: 'Node name, Z to A' });
      await expect(held.locator('tbody tr').last()).toHaveText(firstByName ?? '');
    });

    await test.step('the node page\'s disk bar has its own colour and a legend', async () => {
      await page.goto(`${stack.webUrl}/nodes/${nodeIds[0]}`);
      const disk = page.locator('[data-usage="disk"]');
      await expect(disk.getByRole('meter', { name: 'Disk used' })).toBeVisible();
      await expect(disk).toContainText('Used on the disk');
      await expect(disk).toContainText('Free');
      const [fill, swatch, accent] = await disk.evaluate((el) => {
        // The overview's cache colour, resolved the same way as the bar's.
        const probe = document.body.appendChild(document.createElement('div'));
        probe.style.background = 'var(--accent)';
        const colours = [getComputedStyle(el.querySelector('.usage-fill')!).backgroundColor, getComputedStyle(el.querySelector('.swatch-used')!).backgroundColor, getComputedStyle(probe).backgroundColor];
        probe.remove();
        return colours;
      });
      expect(fill).toBe(swatch);
      expect(fill).not.toBe(accent);
    });

    await test.step('the audit log names the target and shows "Name: before → after", within a time range', async () => {
      const team = await mutate<{ id: string }>(api, stack.webUrl, 'teams.create', { name: `Words ${suffix}` });
      await mutate(api, stack.webUrl, 'teams.rename', { teamId: team.id, name: `Words ${suffix} CI` });
      await page.goto(`${stack.webUrl}/audit`);
      const filters = page.getByRole('form', { name: 'Filter the audit log' });
      await filters.getByLabel('Action starts with').fill('team.rename');
      const today = new Date();
      const day = (d: Date) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
      await filters.getByLabel('From', { exact: true }).fill(day(today));
      await filters.getByLabel('To', { exact: true }).fill(day(today));
      await filters.getByRole('button', { name: 'Apply filters' }).click();
      const row = page.locator(`tr[data-audit-action="team.rename"][data-target="Words ${suffix} CI"]`);
      await expect(row).toBeVisible();
      await expect(row.locator('li[data-field="Name"]')).toHaveText(`Name: Words ${suffix} → Words ${suffix} CI`);
      await expect(row).not.toContainText(team.id);
      await screenshot(page, 'audit');

      const tomorrow = new Date(today.getTime() + 86_400_000);
      await filters.getByLabel('From', { exact: true }).fill(day(tomorrow));
      await filters.getByLabel('To', { exact: true }).fill(day(tomorrow));
      await filters.getByRole('button', { name: 'Apply filters' }).click();
      await expect(page.getByText('No audit events match these filters.')).toBeVisible();
    });
  } finally {
    for (const agent of agents) agent.close();
    for (const nodeId of nodeIds) await mutate(api, stack.webUrl, 'nodes.revoke', { nodeId }).catch(() => undefined);
  }
});
