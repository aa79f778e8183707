// Where a rollout's bytes came from, as a person sees it (issue 10: "you can see it"). Three Macs
// of this spec's own (SimAgents: the spec decides what each agent reports) are sent a fresh image;
// the first takes it from the registry, the second from the first, the third half from each of
// the other two, and the third catches the second sending bad data. Then: the project page
// charts registry egress against a rollout without peers and who fed whom (an SVG with one band
// per flow, and its top feeders in text), each job shows its bytes by source, a node page shows
// what that Mac uploaded to peers, and an admin clears the bad-peer-data condition there.
import { randomBytes } from 'node:crypto';
import type { ControlMessage } from '@cider/protocol';
import { expect, test, type Page } from '@playwright/test';
import type { SimAgent } from '../apps/control/testing/wire.ts';
import { connectLocalRegistry, localRegistryHost, mutate, query } from './api.ts';
import { pushFreshImage } from './images.ts';
import { enrollSimNode } from './sim-nodes.ts';
import { signInAsAdmin } from './sign-in.ts';
import { stackInfo } from './stack-info.ts';


const KiB = 1024;
const imageBytes = 256 * KiB;

async function screenshot(page: Page, name: string) {
  await page.screenshot({ path: `test-results/distribution-${name}.png`, fullPage: true });
}

interface Mac {
  name: string;
  nodeId: string;
  agent: SimAgent;
  jobId: string;
}

test('a rollout shows its registry egress and who fed whom; jobs their sources; a node its uploads and bad peer data, cleared', async ({ page }) => {
  const stack = stackInfo();
  const suffix = randomBytes(3).toString('hex');
  const label = `distribution-${suffix}`;
  const repository = `e2e/distribution-${suffix}`;
  const host = localRegistryHost(stack.registryHost);
  const reference = `${host}/${repository}:15.5`;
  const api = page.request;
  const macs: Mac[] = [];
  let pinId = '';
  let projectId = '';
  let digest = '';

  try {
    await test.step('the admin signs in', async () => {
      await signInAsAdmin(page, stack);
    });

    await test.step('three Macs of a project of its own are sent a fresh image', async () => {
      ({ digest } = await pushFreshImage(stack.registryHost, { repository, tag: '15.5', fileName: 'UniversalMac_15.5_24F74_Restore.ipsw', bytes: imageBytes }));
      await connectLocalRegistry(api, stack);
      const teams = await query<{ id: string; name: string }[]>(api, stack.webUrl, 'teams.list');
      const team = teams.find((t) => t.name === 'Platform');
      expect(team, 'the seeded Platform team').toBeDefined();
      projectId = (await mutate<{ id: string }>(api, stack.webUrl, 'projects.create', { name: `distribution-${suffix}`, teamId: team!.id, nodeSelector: `distribution-spec=${label}` })).id;

      const { token } = await mutate<{ token: string }>(api, stack.webUrl, 'tokens.enrollment.create', { name: `distribution rack ${suffix}`, usesLeft: 3 });
      for (const [i, name] of [`feeder-${suffix}`, `relay-${suffix}`, `leaf-${suffix}`].entries()) {
        // The feeder's peer server has sent 384 KiB (to the other two), two uploads still running.
        const peer = { port: 7941, addresses: [`10.9.0.${i + 1}`], uploadedBytes: i === 0 ? 384 * KiB : 0, uploadsInFlight: i === 0 ? 2 : 0 };
        const { nodeId, agent } = await enrollSimNode(stack.controlUrl, token, { name, labels: { 'distribution-spec': label }, facts: { peer } });
        macs.push({ name, nodeId, agent, jobId: '' });
      }
      pinId = (await mutate<{ id: string }>(api, stack.webUrl, 'pins.set', { projectId, reference })).id;
      for (const mac of macs) {
        // Other specs' projects with an empty selector may send these Macs syncs of their own.
        const sync = (await mac.agent.next((m) => m.type === 'sync' && m.digest === digest, 30_000)) as Extract<ControlMessage, { type: 'sync' }>;
        mac.jobId = sync.jobId;
      }
    });

    const [feeder, relay, leaf] = macs as [Mac, Mac, Mac];
    const done = async (mac: Mac, registry: number, peers: Record<string, number>) => {
      mac.agent.send({
        type: 'sync.done',
        jobId: mac.jobId,
        digest,
        image: { digest, reference, tags: ['15.5'], sizeBytes: imageBytes, verifiedAt: new Date().toISOString() },
        bytesFetched: imageBytes,
        sources: { registry, mirror: 0, peers },
      });
      await expect.poll(async () => (await query<{ state: string }>(api, stack.webUrl, 'jobs.get', { jobId: mac.jobId })).state, { timeout: 15_000 }).toBe('done');
    };

    await test.step('the feeder pulls from the registry, the relay from the feeder, the leaf from both and reports the relay', async () => {
      await done(feeder, imageBytes, {});
      await done(relay, 0, { [feeder.nodeId]: imageBytes });
      leaf.agent.send({ type: 'peer.bad', jobId: leaf.jobId, nodeId: relay.nodeId, digest, reason: 'piece 0 did not match its digest' });
      await done(leaf, 0, { [feeder.nodeId]: imageBytes / 2, [relay.nodeId]: imageBytes / 2 });
    });

    await test.step('the project page charts the egress and who fed whom', async () => {
      await page.goto(`${stack.webUrl}/projects/${projectId}`);
      const flow = page.locator(`section.rollout-flow[data-pin="${reference}"]`);
      await expect(flow.getByRole('heading', { name: `Who fed whom: ${reference}` })).toBeVisible();
      // One registry pull of 256 KiB where three would have taken 768 KiB.
      await expect(flow).toContainText('Registry egress 256 KiB of 768 KiB without peers (33%)');
      await expect(flow.getByRole('meter', { name: 'Registry egress against a rollout without peers' })).toHaveAttribute('aria-valuenow', '33');
      const chart = flow.getByRole('img', { name: `Who fed whom: ${reference}` });
      await expect(chart).toBeVisible();
      // registry → feeder, feeder → relay, feeder → leaf, relay → leaf.
      await expect(chart).toHaveAttribute('data-edges', '4');
      await expect(chart.locator('path.flow-edge')).toHaveCount(4);
      await expect(chart.locator(`path[data-from="${feeder.name}"][data-to="${leaf.name}"]`)).toHaveAttribute('data-bytes', String(imageBytes / 2));
      await expect(chart.locator('[data-source]')).toHaveCount(3);
      await expect(chart.locator('[data-receiver]')).toHaveCount(3);
      await expect(flow.locator('.flow-summary')).toHaveText(`4 flows. Top feeders: ${feeder.name} 384 KiB, registry 256 KiB, ${relay.name} 128 KiB.`);
      await expect(chart).toHaveAttribute('aria-describedby', (await flow.locator('.flow-summary').getAttribute('id'))!);
      await screenshot(page, 'project');
    });

    await test.step('each job shows its bytes by source', async () => {
      await page.goto(`${stack.webUrl}/jobs?digest=${digest}`);
      await expect(page.getByRole('heading', { level: 1, name: 'Jobs' })).toBeVisible();
      await expect(page.locator(`tr[data-job="${feeder.jobId}"]`)).toContainText('256 KiB registry · 0 B mirror · 0 B peers');
      await expect(page.locator(`tr[data-job="${relay.jobId}"]`)).toContainText('0 B registry · 0 B mirror · 256 KiB peers (1 peer)');
      await expect(page.locator(`tr[data-job="${leaf.jobId}"]`)).toContainText('0 B registry · 0 B mirror · 256 KiB peers (2 peers)');
      await screenshot(page, 'jobs');
    });

    await test.step("the feeder's page shows what it uploaded to peers", async () => {
      await page.goto(`${stack.webUrl}/nodes/${feeder.nodeId}`);
      await expect(page.getByRole('heading', { level: 1, name: feeder.name })).toBeVisible();
      await expect(page.locator('[data-field="peer"]')).toContainText('port 7941 · 10.9.0.1');
      await expect(page.locator('[data-field="peer-uploads"]')).toContainText('384 KiB since the agent started · 2 uploads in flight');
    });

    await test.step("the relay's page shows the bad data it sent, and an admin clears it", async () => {
      await page.goto(`${stack.webUrl}/nodes/${relay.nodeId}`);
      const attention = page.getByRole('region', { name: 'Needs attention' });
      await expect(attention).toContainText('Sent bad data to peers (1 report)');
      await expect(attention).toContainText(`Last reported by ${leaf.name}: piece 0 did not match its digest`);
      await screenshot(page, 'bad-peer');
      await page.getByRole('button', { name: `Clear bad peer data conditions on ${relay.name}` }).click();
      await page.getByRole('alertdialog', { name: 'Confirm: Clear conditions' }).getByRole('button', { name: 'Clear conditions' }).click();
      await expect(page.getByRole('status').filter({ hasText: `Cleared 1 condition on ${relay.name}` })).toBeVisible();
      await expect(page.getByRole('region', { name: 'Needs attention' })).toHaveCount(0);
    });
  } finally {
    for (const mac of macs) await mutate(api, stack.webUrl, 'nodes.revoke', { nodeId: mac.nodeId });
    if (pinId) await mutate(api, stack.webUrl, 'pins.remove', { pinId });
    for (const mac of macs) mac.agent.close();
  }
});
