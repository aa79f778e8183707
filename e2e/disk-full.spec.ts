// A node whose disk has no room for a pinned image, as a person sees it: its condition (as its
// agent reports it in its facts) on the node page, in the nodes list and on the overview, in
// the words "Disk full: needs 14.2 GiB, 3.1 GiB free". Uses a node of its own.
import type { HostFacts } from '@cider/protocol';
import { expect, test, type Page } from '@playwright/test';
import { enrollNode } from './sim-nodes.ts';
import { signInAsAdmin } from './sign-in.ts';
import { stackInfo } from './stack-info.ts';

async function screenshot(page: Page, name: string) {
  await page.screenshot({ path: `test-results/disk-full-${name}.png`, fullPage: true });
}

const nodeName = 'full-disk-mac';
const GiB = 1024 ** 3;
const words = 'Disk full: needs 14.2 GiB, 3.1 GiB free';

test('a node with no room for an image shows it on its page, in the nodes list and on the overview', async ({ page }) => {
  const stack = stackInfo();
  await signInAsAdmin(page, stack);

  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings' }).click();
  const form = page.getByRole('form', { name: 'New enrollment token' });
  await form.getByLabel('Token name').fill('full disk rack');
  await form.getByLabel('Uses').fill('1');
  await form.getByRole('button', { name: 'Create token' }).click();
  const token = await form.getByRole('textbox', { name: 'Enrollment token', exact: true }).inputValue();
  const facts: HostFacts = {
    hostname: nodeName,
    os: { platform: 'macOS', release: '24.2.0', version: '15.2' },
    architecture: 'arm64',
    cpu: { model: 'Apple M2', cores: 8 },
    memoryBytes: 16 * GiB,
    disk: { totalBytes: 256 * GiB, freeBytes: Math.round(3.1 * GiB) },
    cache: { path: '/Library/Caches/Cider', bytes: 120 * GiB },
    conditions: [
      {
        type: 'insufficient-space',
        digest: `sha256:${'e'.repeat(64)}`,
        reference: 'registry.example.com/macos:15.3',
        neededBytes: Math.round(14.2 * GiB),
        freeBytes: Math.round(3.1 * GiB),
        since: new Date(Date.now() - 5 * 60_000).toISOString(),
      },
    ],
  };
  const { nodeId } = await enrollNode(stack.controlUrl, token, { name: nodeName, labels: {}, facts });

  await page.goto(`${stack.webUrl}/nodes/${nodeId}`);
  await expect(page.getByRole('heading', { level: 1, name: nodeName })).toBeVisible();
  const attention = page.getByRole('region', { name: 'Needs attention' });
  await expect(attention).toContainText(words);
  await expect(attention).toContainText('registry.example.com/macos:15.3');
  await screenshot(page, 'node');

  await page.goto(`${stack.webUrl}/nodes`);
  await expect(page.locator(`tr[data-node="${nodeName}"]`)).toContainText(words);
  await screenshot(page, 'nodes');

  await page.goto(`${stack.webUrl}/`);
  const overview = page.getByRole('region', { name: 'Needs attention' });
  await expect(overview).toContainText(`${nodeName}: ${words}`);
  await screenshot(page, 'overview');
});
