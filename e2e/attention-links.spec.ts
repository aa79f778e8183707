// The overview's "needs attention" groups lead to the nodes list (issue 14, items 1 and 7): each
// group's link opens the list filtered to that group, its filter shows in the filter bar, and the
// list's total is the count the overview showed. Three Macs of this spec's own (enrolled over
// HTTP, never connected, so offline) make the condition, offline and low-disk groups non-empty;
// every group the shared stack has at that moment is checked. The Macs are revoked at the end.
import { enrollPath, generateNodeKeyPair, type HostFacts } from '@cider/protocol';
import { expect, test, type APIRequestContext } from '@playwright/test';
import { signInAsAdmin } from './sign-in.ts';
import { stackInfo } from './stack-info.ts';

type TrpcBody<T> = { result: { data: { json: T } } };

async function trpc<T>(api: APIRequestContext, webUrl: string, path: string, input: unknown): Promise<T> {
  const response = await api.post(`${webUrl}/api/trpc/${path}`, { data: { json: input } });
  expect(response.ok(), `${path}: ${await response.text()}`).toBe(true);
  return ((await response.json()) as TrpcBody<T>).result.data.json;
}

const GiB = 1024 ** 3;

function facts(name: string, freeBytes: number, conditions: HostFacts['conditions'] = []): HostFacts {
  return {
    hostname: name,
    os: { platform: 'macOS', release: '24.2.0', version: '15.2' },
    architecture: 'arm64',
    cpu: { model: 'Apple M2', cores: 8 },
    memoryBytes: 16 * GiB,
    disk: { totalBytes: 500 * GiB, freeBytes },
    cache: { path: '/Library/Caches/Cider', bytes: 0 },
    conditions,
  };
}

const macs = [
  { name: 'attn-spec-low', facts: facts('attn-spec-low', 5 * GiB) },
  { name: 'attn-spec-full', facts: facts('attn-spec-full', 200 * GiB, [{ type: 'insufficient-space', neededBytes: 300 * GiB, freeBytes: 200 * GiB, since: new Date().toISOString() }]) },
  { name: 'attn-spec-ok', facts: facts('attn-spec-ok', 200 * GiB) },
];

/** Each group's heading, the filter its link sets, and which of this spec's Macs it must list. */
const groups = [
  { title: 'Conditions', url: /\/nodes\?condition=any$/, select: ['Conditions', 'any'], mine: ['attn-spec-full'] },
  { title: 'Offline', url: /\/nodes\?state=offline$/, select: ['State', 'offline'], mine: ['attn-spec-full', 'attn-spec-low', 'attn-spec-ok'] },
  { title: 'Failed syncs', url: /\/nodes\?sync=failed$/, select: ['Sync', 'failed'], mine: [] },
  { title: 'Missing a pinned image (drift)', url: /\/nodes\?sync=drift$/, select: ['Sync', 'drift'], mine: [] },
  { title: 'Low on disk', url: /\/nodes\?disk=low$/, select: ['Disk', 'low'], mine: ['attn-spec-low'] },
] as const;

test("each attention group's link opens the nodes list filtered to that group, with the overview's count", async ({ page }) => {
  const stack = stackInfo();
  await signInAsAdmin(page, stack);
  const api = page.request;
  const nodeIds: string[] = [];
  try {
    const { token } = await trpc<{ token: string }>(api, stack.webUrl, 'tokens.enrollment.create', { name: 'attention links', usesLeft: macs.length });
    for (const mac of macs) {
      const response = await fetch(`${stack.controlUrl}${enrollPath}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token, name: mac.name, labels: { 'attn-spec': 'yes' }, publicKey: generateNodeKeyPair().publicKey, facts: mac.facts }),
      });
      expect(response.status).toBe(200);
      nodeIds.push(((await response.json()) as { nodeId: string }).nodeId);
    }

    const filters = page.getByRole('search', { name: 'Filter nodes' });
    const pager = page.getByRole('navigation', { name: /^Pages of nodes?$/ });
    const attention = page.getByRole('region', { name: 'Needs attention' });
    let checked = 0;
    for (const group of groups) {
      await test.step(`${group.title}: the link's list totals the overview's count`, async () => {
        await page.goto(`${stack.webUrl}/`);
        await expect(attention).toBeVisible();
        const box = attention.getByRole('group', { name: new RegExp(`^${group.title.replace(/[()]/g, '\\$&')}`) });
        if (group.mine.length === 0 && (await box.count()) === 0) return;
        const count = Number(await box.locator('h3 .badge').textContent());
        expect(count).toBeGreaterThan(0);
        await box.getByRole('link', { name: /^Show/ }).click();
        await expect(page).toHaveURL(group.url);
        await expect(filters.getByLabel(group.select[0])).toHaveValue(group.select[1]);
        await expect(pager).toContainText(`of ${count} ${count === 1 ? 'node' : 'nodes'}`);
        // This spec's Macs are among them (and only those the group's rule names).
        await filters.getByLabel('Label').fill('attn-spec=yes');
        await filters.getByLabel('Label').press('Enter');
        const rows = page.getByRole('table', { name: 'Nodes' }).locator('tbody tr');
        await expect.poll(async () => (await rows.evaluateAll((r) => r.map((row) => row.getAttribute('data-node')))).sort()).toEqual([...group.mine]);
        checked++;
      });
    }
    expect(checked).toBeGreaterThanOrEqual(3);
  } finally {
    for (const nodeId of nodeIds) await trpc(api, stack.webUrl, 'nodes.revoke', { nodeId }).catch(() => undefined);
  }
});
