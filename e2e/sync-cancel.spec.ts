// Cancelling a sync job from the dashboard reaches the Mac: the admin cancels a job its node is
// pulling, the row reads "cancelling" (its node has been told, and has not confirmed) for as long
// as the node's agent says nothing of it, and turns "cancelled" by itself, with no reload, once the
// agent confirms. The node is enrolled by this spec and its agent is reduced to its wire
// (SimAgent), so the spec decides what the agent says and sees what the control plane tells it.
// Shares the stack with the other specs: its project, node and image are its own, and it revokes
// the node at the end, so no page counts it as a node that is still there.
import { randomBytes } from 'node:crypto';
import type { ControlMessage } from '@cider/protocol';
import { expect, test, type Page } from '@playwright/test';
import type { SimAgent } from '../apps/control/testing/wire.ts';
import { connectLocalRegistry, localRegistryHost, mutate, query } from './api.ts';
import { pushFreshImage } from './images.ts';
import { enrollSimNode } from './sim-nodes.ts';
import { signInAsAdmin } from './sign-in.ts';
import { stackInfo } from './stack-info.ts';

type MarkedWindow = Window & { __noReload?: boolean };

async function screenshot(page: Page, name: string) {
  await page.screenshot({ path: `test-results/sync-cancel-${name}.png`, fullPage: true });
}

test('a cancelled sync job reads "cancelling" until its node confirms, then "cancelled", live', async ({ page }) => {
  const stack = stackInfo();
  const suffix = randomBytes(3).toString('hex');
  const nodeName = `cancel-mac-${suffix}`;
  const label = `cancel-spec-${suffix}`;
  const repository = `e2e/cancel-${suffix}`;
  // The registry under its localhost name, as admin-journey and image-publish use it (created if
  // missing): thin-path.spec.ts, which runs after this file, connects 127.0.0.1:<port> itself.
  const host = localRegistryHost(stack.registryHost);
  const reference = `${host}/${repository}:15.4`;
  const api = page.request;
  let agent: SimAgent | undefined;
  let nodeId = '';
  let pinId = '';

  try {
    await test.step('the admin signs in', async () => {
      await signInAsAdmin(page, stack);
    });

    let jobId = '';
    await test.step('a node of its own, whose agent is a SimAgent, is sent a sync of a fresh image and reports a little progress', async () => {
      const { digest } = await pushFreshImage(stack.registryHost, { repository, tag: '15.4', fileName: 'UniversalMac_15.4_24E248_Restore.ipsw', bytes: 256 * 1024 });
      await connectLocalRegistry(api, stack);
      const teams = await query<{ id: string; name: string }[]>(api, stack.webUrl, 'teams.list');
      const team = teams.find((t) => t.name === 'Platform');
      expect(team, 'the seeded Platform team').toBeDefined();
      // Only this spec's node carries the label, so only it serves the project.
      const project = await mutate<{ id: string }>(api, stack.webUrl, 'projects.create', { name: `cancel-${suffix}`, teamId: team!.id, nodeSelector: `cancel-spec=${label}` });

      const { token } = await mutate<{ token: string }>(api, stack.webUrl, 'tokens.enrollment.create', { name: `cancel rack ${suffix}`, usesLeft: 1 });
      ({ nodeId, agent } = await enrollSimNode(stack.controlUrl, token, { name: nodeName, labels: { 'cancel-spec': label } }));

      const pin = await mutate<{ id: string; digest: string }>(api, stack.webUrl, 'pins.set', { projectId: project.id, reference });
      pinId = pin.id;
      expect(pin.digest).toBe(digest);
      // Other projects with an empty selector (other specs') may send this node syncs of their own
      // images: only this digest's is the one under test.
      const sync = (await agent.next((m) => m.type === 'sync' && m.digest === digest, 30_000)) as Extract<ControlMessage, { type: 'sync' }>;
      jobId = sync.jobId;
      agent.send({ type: 'sync.progress', jobId, phase: 'downloading', bytesDone: 64 * 1024, bytesTotal: 256 * 1024 });
    });

    const row = page.locator(`tr[data-job="${jobId}"]`);
    await test.step('the Jobs page shows the job pulling on the node, with a Cancel button', async () => {
      await page.goto(`${stack.webUrl}/jobs?node=${nodeId}`);
      await expect(page.getByRole('heading', { level: 1, name: 'Jobs' })).toBeVisible();
      await expect(row).toHaveAttribute('data-state', 'pulling');
      await expect(row.getByText('downloading', { exact: true })).toBeVisible();
      await expect(row.getByRole('button', { name: `Cancel sync of ${reference} on ${nodeName}` })).toBeEnabled();
    });

    await test.step('Cancel makes the row read "cancelling" and tells the agent', async () => {
      await row.getByRole('button', { name: `Cancel sync of ${reference} on ${nodeName}` }).click();
      await expect(page.getByRole('status').filter({ hasText: `Cancelling the sync of ${reference}` })).toContainText('its agent stops the download');
      const badge = row.getByText('cancelling', { exact: true });
      await expect(badge).toBeVisible();
      await expect(badge).toHaveAttribute('title', /Waiting for the node to confirm it stopped/);
      await expect(row.getByRole('button', { name: `Sync of ${reference} on ${nodeName} is being cancelled` })).toBeDisabled();
      await expect(row.getByRole('button', { name: `Cancel sync of ${reference} on ${nodeName}` })).toHaveCount(0);
      // Without this the spec would pass with a cancel that only changed the row.
      const cancel = await agent!.next((m) => m.type === 'cancel' && m.jobId === jobId, 15_000);
      expect(cancel).toMatchObject({ type: 'cancel', jobId });
      await screenshot(page, 'cancelling');
    });

    await test.step('it stays "cancelling" while the agent has not confirmed, even after a late progress report', async () => {
      // A progress report that crossed the cancel on the wire must not make the job pull again.
      // The gateway handles one socket's messages in order, so its answer to the grant.renew
      // that follows comes once the report was handled; a cancelling job gets no new grant.
      agent!.send({ type: 'sync.progress', jobId, phase: 'downloading', bytesDone: 128 * 1024, bytesTotal: 256 * 1024 });
      agent!.send({ type: 'grant.renew', jobId });
      const answer = await agent!.next((m) => (m.type === 'error' && m.message.includes(jobId)) || (m.type === 'grant' && m.jobId === jobId));
      expect(answer).toMatchObject({ type: 'error', code: 'CONFLICT', message: `Sync job ${jobId} is cancelling: it gets no new registry grant.` });
      // What the server holds now, read afresh: still cancelling.
      await page.reload();
      await expect(row).toHaveAttribute('data-state', 'cancelling');
      await expect(row.getByText('cancelling', { exact: true })).toBeVisible();
      await expect(row.getByRole('button', { name: `Sync of ${reference} on ${nodeName} is being cancelled` })).toBeDisabled();
      // The late report was refused: the stored progress is still the first one's.
      await expect(row).toContainText('64.0 KiB of 256 KiB');
    });

    await test.step('the agent confirms and the row turns "cancelled" by itself', async () => {
      // From here on the page must update itself: a reload would drop this marker.
      await page.evaluate(() => {
        (window as MarkedWindow).__noReload = true;
      });
      agent!.send({ type: 'sync.cancelled', jobId });
      // The jobs list has no refetch interval: only a pushed event can bring this.
      await expect(row).toHaveAttribute('data-state', 'cancelled');
      await expect(row.getByText('cancelled', { exact: true })).toBeVisible();
      // No action is left on the row (its tokens' copy buttons are not actions).
      await expect(row.getByRole('button', { name: /^(Cancel|Retry)/ })).toHaveCount(0);
      expect(await page.evaluate(() => (window as MarkedWindow).__noReload)).toBe(true);
      await screenshot(page, 'cancelled');
    });
  } finally {
    // The node first (its open jobs, such as the one a later reconcile queues again for the
    // still-pinned digest, are cancelled with it), then the pin, then the socket.
    if (nodeId) await mutate(api, stack.webUrl, 'nodes.revoke', { nodeId });
    if (pinId) await mutate(api, stack.webUrl, 'pins.remove', { pinId });
    agent?.close();
  }
});
