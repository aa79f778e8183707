// Screenshot comparisons of the main pages, mid-rollout: the overview's rollout row, the jobs of
// one node, a project's pins and rollout, a node's host facts and a tag's page. Everything shown
// is this spec's own and the same on every run: a seeded image (same digest each time), fixed
// names, two Macs reduced to their wire (SimAgents) that report fixed progress and never finish.
// What moves by itself (times, live rates) is masked. The baselines live beside this file
// (screenshots.spec.ts-snapshots/); after an intended change of a page, look at the new
// screenshots and refresh them with `npx playwright test e2e/screenshots.spec.ts --update-snapshots`.
import type { ControlMessage } from '@cider/protocol';
import { expect, test, type Locator, type Page } from '@playwright/test';
import { connectLocalRegistry, localRegistryHost, mutate, query } from './api.ts';
import { pushFreshImage } from './images.ts';
import { signInAsAdmin } from './sign-in.ts';
import { enrollSimNode, type SimNode } from './sim-nodes.ts';
import { stackInfo } from './stack-info.ts';

/**
 * The Macs enroll during the run, so a node's "Enrolled" time is real, and a two-digit hour
 * ("10:07 PM") wraps its cell where "9:55 PM" does not: the page is shown in a time zone where it
 * is 3 o'clock (AM or PM) now, so the layout is the same whatever the hour of the run. (The
 * times themselves are masked.)
 */
function threeOClockZone(now = new Date()): string {
  const ahead = (((3 - now.getUTCHours()) % 12) + 12) % 12;
  // Etc/GMT-N is N hours ahead of UTC (POSIX signs).
  return ahead === 0 ? 'UTC' : `Etc/GMT-${ahead}`;
}
test.use({ timezoneId: threeOClockZone() });

const KiB = 1024;
const imageBytes = 256 * KiB;

/**
 * Text that differs between runs: what changes with the clock ("3 s ago", dates, times of day) and
 * the registry's address (a free port each run), which every reference starts with.
 */
function runText(scope: Locator): Locator {
  return scope.getByText(/\b(ago|just now|in \d+|left)\b|\d{4}-\d{2}-\d{2}|\b\d{1,2}:\d{2}\b|localhost:\d+/);
}

async function compare(page: Page, target: Locator, name: string, mask: Locator[] = []) {
  await expect(target).toBeVisible();
  await expect(page.locator('main').getByText(/^Loading .*…$/)).toHaveCount(0);
  await expect(target).toHaveScreenshot(name, { mask: [runText(target), ...mask], animations: 'disabled', caret: 'hide', maxDiffPixelRatio: 0.01 });
}

test('the main pages, mid-rollout, look as they did', async ({ page }) => {
  test.setTimeout(180_000);
  const stack = stackInfo();
  const api = page.request;
  const host = localRegistryHost(stack.registryHost);
  const macs: SimNode[] = [];
  let pinId = '';
  await page.setViewportSize({ width: 1280, height: 900 });

  try {
    await signInAsAdmin(page, stack);
    const { digest } = await pushFreshImage(stack.registryHost, { repository: 'e2e/screenshots', tag: '15.7', fileName: 'UniversalMac_15.7_24H52_Restore.ipsw', bytes: imageBytes, seed: 'screenshots' });
    const { id: registryId } = await connectLocalRegistry(api, stack);
    const teams = await query<{ id: string; name: string }[]>(api, stack.webUrl, 'teams.list');
    const team = teams.find((t) => t.name === 'Platform')!;
    const project = await mutate<{ id: string }>(api, stack.webUrl, 'projects.create', { name: 'screenshots', teamId: team.id, nodeSelector: 'screenshots=mid-rollout' });
    const { token } = await mutate<{ token: string }>(api, stack.webUrl, 'tokens.enrollment.create', { name: 'screenshots rack', usesLeft: 2 });
    for (const name of ['shot-mac-a', 'shot-mac-b']) macs.push(await enrollSimNode(stack.controlUrl, token, { name, labels: { screenshots: 'mid-rollout' } }));

    pinId = (await mutate<{ id: string }>(api, stack.webUrl, 'pins.set', { projectId: project.id, reference: `${host}/e2e/screenshots:15.7` })).id;
    for (const [i, mac] of macs.entries()) {
      // Other specs' projects with an empty selector may send these Macs syncs of their own.
      const sync = (await mac.agent.next((m) => m.type === 'sync' && m.digest === digest, 30_000)) as Extract<ControlMessage, { type: 'sync' }>;
      mac.agent.send({ type: 'sync.progress', jobId: sync.jobId, phase: 'downloading', bytesDone: (i === 0 ? 192 : 64) * KiB, bytesTotal: imageBytes });
    }
    const [macA] = macs as [SimNode, SimNode];

    await page.goto(stack.webUrl);
    const rollout = page.locator(`tr[data-rollout="${pinId}"]`);
    await expect(rollout.locator('[data-field="nodes"]')).toContainText('0 / 2');
    await expect(rollout.locator('[data-field="bytes"]')).toContainText('256');
    await compare(page, rollout, 'overview-rollout.png', [rollout.locator('[data-field="rate"]')]);

    await page.goto(`${stack.webUrl}/jobs?node=${macA.nodeId}&digest=${digest}`);
    const jobs = page.locator('main section.card').filter({ has: page.locator('tr[data-job]') });
    await expect(jobs.locator('tr[data-job]')).toHaveCount(1);
    await compare(page, jobs, 'jobs.png');

    await page.goto(`${stack.webUrl}/projects/${project.id}`);
    await expect(page.getByRole('heading', { level: 1, name: 'screenshots' })).toBeVisible();
    const section = (title: string) => page.locator('main section.card').filter({ has: page.getByRole('heading', { level: 2, name: title, exact: true }) });
    await expect(section('Rollout').locator('tr[data-node]')).toHaveCount(2);
    await compare(page, section('Pins'), 'project-pins.png');
    await compare(page, section('Rollout'), 'project-rollout.png');

    await page.goto(`${stack.webUrl}/nodes/${macA.nodeId}`);
    await expect(page.getByRole('heading', { level: 1, name: 'shot-mac-a' })).toBeVisible();
    await compare(page, section('Host'), 'node-host.png');

    await page.goto(`${stack.webUrl}/images/${registryId}/e2e/screenshots/-/tags/15.7`);
    await expect(page.getByRole('heading', { level: 1 })).toBeVisible();
    await compare(page, page.locator('main'), 'tag.png');
  } finally {
    for (const mac of macs) await mutate(api, stack.webUrl, 'nodes.revoke', { nodeId: mac.nodeId });
    if (pinId) await mutate(api, stack.webUrl, 'pins.remove', { pinId });
    for (const mac of macs) mac.agent.close();
  }
});
