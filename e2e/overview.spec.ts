// The overview as an admin's first page (issue 14, items 1 and 6): the first-run checklist says
// what the data says and hides once every step is done; a rollout in flight to three Macs of this
// spec's own (SimAgents: the spec decides what each reports) shows nodes done / total, bytes done
// / total, a live rate and the registry egress; a Mac that goes silent shows under "needs
// attention"; once every Mac holds the image the rollout leaves the list, and the project's
// trends time it and chart its convergence.
import { randomBytes } from 'node:crypto';
import type { ControlMessage } from '@cider/protocol';
import { expect, test, type Page } from '@playwright/test';
import { connectLocalRegistry, localRegistryHost, mutate, query } from './api.ts';
import { pushFreshImage } from './images.ts';
import { connectSimAgent, enrollSimNode, type SimNode } from './sim-nodes.ts';
import { signInAsAdmin } from './sign-in.ts';
import { stackInfo } from './stack-info.ts';

const KiB = 1024;
const imageBytes = 256 * KiB;

async function screenshot(page: Page, name: string) {
  await page.screenshot({ path: `test-results/overview-${name}.png`, fullPage: true });
}

interface Mac extends SimNode {
  name: string;
  jobId: string;
}

interface Checklist {
  steps: { step: string; done: boolean }[];
  complete: boolean;
}

test('the overview leads: checklist from the data, a rollout in flight with nodes and bytes, a silent Mac needing attention, then trends', async ({ page }) => {
  test.setTimeout(150_000);
  const stack = stackInfo();
  const suffix = randomBytes(3).toString('hex');
  const label = `overview-${suffix}`;
  const repository = `e2e/overview-${suffix}`;
  const host = localRegistryHost(stack.registryHost);
  const reference = `${host}/${repository}:15.6`;
  const api = page.request;
  const macs: Mac[] = [];
  let pinId = '';
  let projectId = '';
  let digest = '';
  const heldImage = () => ({ digest, reference, tags: ['15.6'], sizeBytes: imageBytes, verifiedAt: new Date().toISOString() });

  try {
    await test.step('the first-run checklist shows what the data says', async () => {
      await signInAsAdmin(page, stack);
      const { checklist } = await query<{ checklist: Checklist }>(api, stack.webUrl, 'fleet.overview');
      const region = page.getByRole('region', { name: 'Get started' });
      if (checklist.complete) {
        await expect(region).toHaveCount(0);
      } else {
        for (const { step, done } of checklist.steps) await expect(region.locator(`li[data-step="${step}"]`)).toHaveAttribute('data-done', String(done));
        await screenshot(page, 'checklist');
      }
    });

    await test.step('three Macs of a project of its own are sent a fresh image', async () => {
      ({ digest } = await pushFreshImage(stack.registryHost, { repository, tag: '15.6', fileName: 'UniversalMac_15.6_24G84_Restore.ipsw', bytes: imageBytes }));
      await connectLocalRegistry(api, stack);
      const teams = await query<{ id: string; name: string }[]>(api, stack.webUrl, 'teams.list');
      const team = teams.find((t) => t.name === 'Platform');
      expect(team, 'the seeded Platform team').toBeDefined();
      projectId = (await mutate<{ id: string }>(api, stack.webUrl, 'projects.create', { name: `overview-${suffix}`, teamId: team!.id, nodeSelector: `overview-spec=${label}` })).id;
      const { token } = await mutate<{ token: string }>(api, stack.webUrl, 'tokens.enrollment.create', { name: `overview rack ${suffix}`, usesLeft: 3 });
      for (const name of [`ov-done-${suffix}`, `ov-pulling-${suffix}`, `ov-silent-${suffix}`]) {
        macs.push({ name, ...(await enrollSimNode(stack.controlUrl, token, { name, labels: { 'overview-spec': label } })), jobId: '' });
      }
      pinId = (await mutate<{ id: string }>(api, stack.webUrl, 'pins.set', { projectId, reference })).id;
      for (const mac of macs) {
        const sync = (await mac.agent.next((m) => m.type === 'sync' && m.digest === digest, 30_000)) as Extract<ControlMessage, { type: 'sync' }>;
        mac.jobId = sync.jobId;
      }
    });

    const [done, pulling, silent] = macs as [Mac, Mac, Mac];
    const progress = (bytesDone: number) => pulling.agent.send({ type: 'sync.progress', jobId: pulling.jobId, phase: 'downloading', bytesDone, bytesTotal: imageBytes });

    await test.step('the overview shows the rollout in flight: nodes done / total, bytes, a live rate, egress', async () => {
      done.agent.send({ type: 'sync.done', jobId: done.jobId, digest, image: heldImage(), bytesFetched: imageBytes, sources: { registry: imageBytes, mirror: 0, peers: {} } });
      progress(64 * KiB);
      const state = async (mac: Mac) => (await query<{ state: string }>(api, stack.webUrl, 'jobs.get', { jobId: mac.jobId })).state;
      await expect.poll(() => state(done), { timeout: 15_000 }).toBe('done');
      await expect.poll(() => state(pulling), { timeout: 15_000 }).toBe('pulling');

      await page.goto(`${stack.webUrl}/`);
      await expect(page.getByRole('region', { name: 'Get started' }), 'every first step is done now').toHaveCount(0);
      const row = page.locator(`tr[data-rollout="${pinId}"]`);
      await expect(row.locator('[data-field="nodes"]')).toContainText('1 / 3 nodes');
      await expect(row.locator('[data-field="bytes"]')).toContainText('320 KiB of 768 KiB');
      await expect(row.getByRole('meter', { name: `Rollout of ${reference} to overview-${suffix}` })).toHaveAttribute('aria-valuenow', '42');
      await expect(row.locator('[data-field="egress"]')).toContainText('256 KiB of 256 KiB');
      // Progress reports move the bytes and give a rate without a refetch.
      progress(128 * KiB);
      await expect(row.locator('[data-field="bytes"]')).toContainText('384 KiB of 768 KiB');
      progress(192 * KiB);
      await expect(row.locator('[data-field="bytes"]')).toContainText('448 KiB of 768 KiB');
      await expect(row.locator('[data-field="rate"]')).toContainText(/\/s/);
      await expect(row.locator('[data-field="rate"]')).toContainText('left');
      await screenshot(page, 'mid-rollout');
    });

    await test.step('a Mac that goes silent needs attention, with a link to all offline nodes', async () => {
      silent.agent.close();
      await silent.agent.closed;
      await page.goto(`${stack.webUrl}/`);
      const offline = page.getByRole('region', { name: 'Needs attention' }).getByRole('group', { name: /^Offline/ });
      // The most recently heard from first: the Mac that just went silent.
      await expect(offline.locator('li').first()).toHaveAttribute('data-node', silent.name);
      await expect(offline.locator(`li[data-node="${silent.name}"]`)).toContainText(`${silent.name}: offline, last seen just now`);
      await expect(offline.getByRole('link', { name: /offline/ })).toHaveAttribute('href', '/nodes?state=offline');
      // The rollout counts it as offline, not as fetching.
      await expect(page.locator(`tr[data-rollout="${pinId}"] [data-field="nodes"]`)).toContainText('1 fetching · 0 waiting · 1 offline');
      await screenshot(page, 'attention');
    });

    await test.step('once every Mac holds the image the rollout leaves the list, and the project times it', async () => {
      pulling.agent.send({ type: 'sync.done', jobId: pulling.jobId, digest, image: heldImage(), bytesFetched: imageBytes, sources: { registry: 0, mirror: 0, peers: { [done.nodeId]: imageBytes } } });
      silent.agent = await connectSimAgent(stack.controlUrl, silent, { name: silent.name, images: [heldImage()] });
      await expect.poll(async () => (await page.goto(`${stack.webUrl}/`), await page.locator(`tr[data-rollout="${pinId}"]`).count()), { timeout: 20_000 }).toBe(0);

      await page.goto(`${stack.webUrl}/projects/${projectId}`);
      const trends = page.getByRole('region', { name: 'Trends' });
      // The control plane writes trends every half minute; the page refreshes them every minute.
      await expect
        .poll(async () => (await page.reload(), await trends.locator(`tr[data-rollout-digest="${digest}"] [data-field="took"]`).textContent()), { timeout: 75_000, intervals: [5_000] })
        .toMatch(/^\d+ (s|min)$/);
      await expect(trends.locator('[data-field="convergence"]')).toContainText('Now 100% (3 of 3 nodes hold every pinned image)');
      await expect(trends.getByRole('img', { name: 'Share of nodes holding their pinned images' })).toBeVisible();
      await screenshot(page, 'project-trends');
    });
  } finally {
    for (const mac of macs) await mutate(api, stack.webUrl, 'nodes.revoke', { nodeId: mac.nodeId }).catch(() => undefined);
    if (pinId) await mutate(api, stack.webUrl, 'pins.remove', { pinId }).catch(() => undefined);
    for (const mac of macs) mac.agent.close();
  }
});
