// An admin's tour of what the fleet holds: mark the registry's tags immutable, browse the registry
// down to the demo image's spec sheet and the SBOM attached to it, pin it in a project of their
// own, watch its sync jobs finish on every node, and find it on a node's page. Shares the stack (and database) with the other specs, which run in file
// order: every name here is its own, and nothing another spec creates is relied on.
import { Annotation, emptyConfig, encodeManifest, MediaType, pushReferrer, RegistryClient, sha256, type ImageManifest } from '@cider/oci';
import { expect, test, type Page } from '@playwright/test';
import { localRegistryHost } from './api.ts';
import { signInAsAdmin } from './sign-in.ts';
import { stackInfo, type StackInfo } from './stack-info.ts';

// Read when the test runs: Playwright collects specs before the global setup writes the file.

function shortDigest(digest: string): string {
  const [algorithm, hex = ''] = digest.split(':');
  return `${algorithm}:${hex.slice(0, 12)}`;
}

async function screenshot(page: Page, name: string) {
  await page.screenshot({ path: `test-results/admin-journey-${name}.png`, fullPage: true });
}

/** Attaches an SBOM to the demo image, as `cider image attach` would; returns the referrer's digest. */
async function attachSbom(stack: StackInfo): Promise<string> {
  const client = new RegistryClient();
  try {
    const repo = client.repository(stack.registryHost, 'demo/macos');
    const subject = await repo.resolve(stack.demoDigest);
    const sbom = Buffer.from(JSON.stringify({ spdxVersion: 'SPDX-2.3', name: 'macOS 15.2', packages: [] }));
    for (const blob of [emptyConfig.bytes, sbom]) await repo.pushBlob({ digest: sha256(blob), size: blob.length, open: () => blob });
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      artifactType: 'application/spdx+json',
      config: emptyConfig.descriptor,
      layers: [{ mediaType: 'application/spdx+json', digest: sha256(sbom), size: sbom.length, annotations: { [Annotation.title]: 'sbom.spdx.json' } }],
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
      annotations: { [Annotation.title]: 'SBOM for macOS 15.2', [Annotation.created]: '2025-01-27T10:00:00Z' },
    };
    const encoded = encodeManifest(manifest);
    return (await pushReferrer(repo, encoded.bytes, encoded.mediaType, subject)).descriptor.digest;
  } finally {
    await client.close();
  }
}

function nav(page: Page, name: string) {
  return page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true });
}

test('an admin browses the demo image, pins it, watches its sync jobs finish and finds it on a node', async ({ page }) => {
  test.setTimeout(240_000);
  const stack = stackInfo();
  // Pins name their registry by host, and a host can be connected once. thin-path.spec.ts (which
  // runs after this file) adds 127.0.0.1:<port> itself, so when nobody has connected the registry
  // yet this spec reaches the same server as localhost:<port>, a distinct host to the dashboard.
  const adminHost = localRegistryHost(stack.registryHost);
  let host = stack.registryHost;

  await test.step('the admin signs in', async () => {
    await signInAsAdmin(page, stack);
  });

  await test.step('the registry is connected (reused when it already is)', async () => {
    await nav(page, 'Registries').click();
    const rows = page.locator('tr[data-registry]');
    await expect(page.getByText('No registries yet').or(rows.first())).toBeVisible();
    if ((await rows.filter({ hasText: stack.registryHost }).count()) > 0) return;
    host = adminHost;
    if ((await rows.filter({ hasText: adminHost }).count()) > 0) return;
    const form = page.getByRole('form', { name: 'Add a registry' });
    await form.getByLabel('Name', { exact: true }).fill('local-admin');
    await form.getByLabel('Host', { exact: true }).fill(adminHost);
    await form.getByLabel('Plain HTTP').check();
    await form.getByRole('button', { name: 'Add registry' }).click();
    await expect(form.getByRole('status')).toContainText('Added registry local-admin');
  });
  const reference = stack.demoReference.replace(stack.registryHost, host);

  await test.step('the admin marks the registry "Immutable tags" and sees the badge', async () => {
    const row = page.locator('tr[data-registry]').filter({ hasText: host });
    const toggle = row.getByRole('checkbox', { name: /^Immutable tags on / });
    await expect(toggle).toBeVisible();
    if (!(await toggle.isChecked())) await toggle.check();
    await expect(row.locator('[data-badge="immutable-tags"]')).toHaveText('Immutable tags');
    await expect(page.getByText('Pushing over an existing tag fails; the registry watcher flags any tag that moves anyway.').first()).toBeVisible();
    // Saved: it survives a reload, and `cider push` gets it from the API.
    await page.reload();
    await expect(row.getByRole('checkbox', { name: /^Immutable tags on / })).toBeChecked();
    await expect(row.locator('[data-badge="immutable-tags"]')).toBeVisible();
    const input = encodeURIComponent(JSON.stringify({ json: { host: host.toUpperCase() } }));
    const policy = await page.request.get(`${stack.webUrl}/api/trpc/registries.tagPolicy?input=${input}`);
    expect(policy.status()).toBe(200);
    expect(((await policy.json()) as { result: { data: { json: unknown } } }).result.data.json).toMatchObject({ registry: { host }, immutableTags: true });
    await screenshot(page, 'registries');
  });

  const sbomDigest = await test.step('an SBOM is attached to the demo image (as `cider image attach` does)', () => attachSbom(stack));

  await test.step('Images -> the registry -> demo/macos -> tag 15.2 shows the spec sheet', async () => {
    await nav(page, 'Images').click();
    await expect(page.getByRole('heading', { level: 1, name: 'Images' })).toBeVisible();
    const registryRow = page.locator('tr[data-registry]').filter({ hasText: host });
    await expect(registryRow).toBeVisible();
    await screenshot(page, 'images');
    await registryRow.getByRole('link').click();

    await expect(page.getByRole('heading', { level: 2, name: 'Repositories' })).toBeVisible();
    await page.getByLabel('Filter repositories').fill('demo/');
    await page.locator('tr[data-repository="demo/macos"]').getByRole('link', { name: 'demo/macos' }).click();

    await expect(page.getByRole('heading', { level: 1, name: 'demo/macos' })).toBeVisible();
    const tagRow = page.locator('tr[data-tag="15.2"]');
    await expect(tagRow).toContainText(shortDigest(stack.demoDigest));
    await screenshot(page, 'tags');
    await tagRow.getByRole('link', { name: 'Tag 15.2' }).click();

    await expect(page.getByRole('heading', { level: 1, name: 'demo/macos:15.2' })).toBeVisible();
    const field = (name: string) => page.locator(`[data-field="${name}"] dd`);
    await expect(field('version')).toHaveText('15.2');
    await expect(field('build')).toHaveText('24C101');
    await expect(field('architecture')).toHaveText('arm64');
    await expect(field('os')).toHaveText('macOS');
    await expect(field('payload')).toContainText('UniversalMac_15.2_24C101_Restore.ipsw');
    await expect(field('digest')).toContainText(stack.demoDigest);
    await expect(field('artifact-type')).toHaveText('Cider image');
    await expect(page.getByRole('table').filter({ hasText: 'UniversalMac_15.2_24C101_Restore.ipsw' })).toBeVisible();
    await screenshot(page, 'image-detail');
  });

  await test.step('the Referrers card lists the SBOM, which opens as its own manifest', async () => {
    const referrers = page.getByRole('region', { name: 'Referrers' });
    const row = referrers.locator(`tr[data-referrer="${sbomDigest}"]`);
    await expect(row).toContainText('SPDX SBOM');
    await expect(row).toContainText('SBOM for macOS 15.2');
    await expect(row).toContainText(shortDigest(sbomDigest));
    await referrers.screenshot({ path: 'test-results/admin-journey-referrers.png' });
    await row.getByRole('link', { name: 'Referrer SBOM for macOS 15.2' }).click();
    await expect(page.getByRole('heading', { level: 1, name: `demo/macos@${shortDigest(sbomDigest)}` })).toBeVisible();
    await expect(page.locator('[data-field="subject"] dd')).toContainText(stack.demoDigest);
    await expect(page.locator('[data-field="artifact-type"] dd')).toHaveText('SPDX SBOM');
    await expect(page.getByRole('region', { name: 'Referrers' })).toContainText('No signatures, SBOMs or release notes are attached.');
  });

  await test.step('the admin creates admin-ci for Platform and pins the demo image', async () => {
    await nav(page, 'Projects').click();
    const form = page.getByRole('form', { name: 'New project' });
    await form.getByLabel('Name', { exact: true }).fill('admin-ci');
    await form.getByLabel('Team').selectOption({ label: 'Platform' });
    await form.getByRole('button', { name: 'Create project' }).click();
    await expect(page.getByRole('heading', { level: 1, name: 'admin-ci' })).toBeVisible();

    const pin = page.getByRole('form', { name: 'Pin an image' });
    await pin.getByLabel('Image reference').fill(reference);
    await pin.getByRole('button', { name: 'Pin image' }).click();
    await expect(pin.getByRole('status')).toContainText(shortDigest(stack.demoDigest));
  });

  await test.step('Jobs shows a sync job reaching done on every node', async () => {
    await nav(page, 'Jobs').click();
    await expect(page.getByRole('heading', { level: 1, name: 'Jobs' })).toBeVisible();
    const filters = page.getByRole('form', { name: 'Filter sync jobs' });
    await filters.getByLabel('Digest').fill(stack.demoDigest);
    await filters.getByRole('button', { name: 'Filter' }).click();
    await expect(page).toHaveURL(/[?&]digest=sha256%3A/);
    for (const node of stack.nodes) {
      await expect(page.locator(`tr[data-node="${node}"][data-state="done"]`).first()).toBeVisible({ timeout: 90_000 });
    }
    // Only this digest's jobs are listed.
    await expect(page.locator(`tr[data-job]:not([data-digest="${stack.demoDigest}"])`)).toHaveCount(0);
    await screenshot(page, 'jobs');
  });

  await test.step("a node's page shows the image held, pinned, with its digest", async () => {
    const node = stack.nodes[0]!;
    await nav(page, 'Nodes').click();
    await page.locator(`tr[data-node="${node}"]`).getByRole('link', { name: node }).click();
    await expect(page.getByRole('heading', { level: 1, name: node })).toBeVisible();
    await expect(page.locator('[data-field="hostname"]')).toBeVisible();
    const held = page.getByRole('region', { name: 'Images in the cache' }).locator(`tr[data-digest="${stack.demoDigest}"]`);
    await expect(held).toContainText(shortDigest(stack.demoDigest));
    await expect(held).toContainText('pinned');
    await expect(held).toContainText('admin-ci');
    await expect(page.locator('tr[data-project="admin-ci"]')).toBeVisible();
    await expect(page.getByRole('region', { name: 'Sync jobs' }).locator(`tr[data-state="done"][data-digest="${stack.demoDigest}"]`).first()).toBeVisible();
    await screenshot(page, 'node');
  });
});
