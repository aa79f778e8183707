// "Publish from Apple" and a project's bundle, as an admin does them in the dashboard: the dialog
// lists what the catalog offers (a stand-in for Apple's, served on loopback by the e2e stack), the
// control plane streams the IPSW into the registry with a live progress bar, and the image is
// then listed. The project's "Download bundle" gives a tar of exactly its Content-Length that
// verifies; "Write to server path" writes one inside CIDER_BUNDLE_DIR. Axe checks both pages.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { verifyBundle } from '@cider/oci';
import { expect, test } from '@playwright/test';
import { connectLocalRegistry, mutate, query } from './api.ts';
import { seriousViolations } from './axe.ts';
import { signInAsAdmin } from './sign-in.ts';
import { stackInfo } from './stack-info.ts';

test('an admin publishes macOS from Apple with a live bar, then downloads and writes the project bundle', async ({ page }, testInfo) => {
  test.setTimeout(180_000);
  const stack = stackInfo();
  const apple = stack.appleMirror;
  expect(apple, 'the e2e stack serves a stand-in Apple catalog').toBeDefined();
  const suffix = Date.now().toString(36);
  const repository = `apple-${suffix}/macos`;
  const api = page.request;
  await signInAsAdmin(page, stack);
  const registry = await connectLocalRegistry(api, stack);
  const title = `macOS ${apple!.version} (${apple!.build}) → ${registry.host}/${repository}`;

  await test.step('the dialog lists the catalog and starts the task', async () => {
    await page.goto(`${stack.webUrl}/images`);
    await page.getByRole('button', { name: 'Publish from Apple…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Publish from Apple' });
    await expect(dialog.getByLabel('macOS version')).toContainText(`macOS ${apple!.version} (${apple!.build})`);
    // Its size, asked of the mirror's URL by the server (the catalog gives none): a 36 MiB payload.
    await expect(dialog.getByText(/to stream from Apple into the registry/)).toHaveText('36.0 MiB to stream from Apple into the registry.');
    await dialog.getByRole('combobox', { name: /^Registry/ }).selectOption(registry.id);
    await dialog.getByLabel('Repository', { exact: true }).fill(repository);
    await expect(dialog.getByLabel('Tags', { exact: true })).toHaveValue(`${apple!.version} ${apple!.version}-${apple!.build}`);
    expect(await seriousViolations(page)).toEqual([]);
    await dialog.getByRole('button', { name: 'Publish' }).click();
    await expect(dialog.getByRole('status')).toContainText(`Started: ${title}`);
    await dialog.getByRole('button', { name: 'Close' }).click();
  });

  await test.step('its progress bar moves live, then it succeeds and links to the image', async () => {
    const panel = page.getByTestId('tasks-panel');
    const bar = panel.getByRole('progressbar', { name: `Progress of ${title}` });
    await expect(bar).toBeVisible({ timeout: 30_000 });
    // A percentage from live task.progress events (the list is not refetched for them).
    await expect(bar).toHaveAttribute('aria-valuenow', /^[1-9]\d*$/, { timeout: 30_000 });
    expect(await seriousViolations(page)).toEqual([]);
    const row = panel.locator('tr', { hasText: title });
    await expect(row).toHaveAttribute('data-state', 'succeeded', { timeout: 90_000 });
    await row.getByRole('link', { name: `${registry.host}/${repository}:${apple!.version}` }).click();
    await expect(page.getByText(apple!.build).first()).toBeVisible();
  });

  await test.step('the image is listed in its repository, with both tags', async () => {
    await page.goto(`${stack.webUrl}/images/${registry.id}/${repository}`);
    const tags = page.locator('tbody tr td:first-child');
    await expect(tags).toHaveText([`${apple!.version}-${apple!.build}`, apple!.version]);
  });

  const teams = await query<{ id: string; name: string }[]>(api, stack.webUrl, 'teams.list');
  const team = teams.find((t) => t.name === 'Platform');
  // A selector no Mac matches: pinning here sends no node a sync.
  const projectId = (await mutate<{ id: string }>(api, stack.webUrl, 'projects.create', { name: `bundle-${suffix}`, teamId: team!.id, nodeSelector: `bundle-spec=${suffix}` })).id;
  await mutate(api, stack.webUrl, 'pins.set', { projectId, reference: `${registry.host}/${repository}:${apple!.version}` });

  await test.step('Download bundle: a tar of exactly Content-Length bytes that verifies', async () => {
    await page.goto(`${stack.webUrl}/projects/${projectId}`);
    const link = page.getByRole('link', { name: 'Download bundle' });
    await expect(link).toBeVisible();
    expect(await seriousViolations(page)).toEqual([]);
    const head = await api.get(`${stack.webUrl}/api/bundles/projects/${projectId}`);
    expect(head.status(), await head.text().catch(() => '')).toBe(200);
    const length = Number(head.headers()['content-length']);
    expect(length).toBeGreaterThan(36 * 1024 * 1024);
    expect((await head.body()).length).toBe(length);
    const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
    const path = testInfo.outputPath('bundle.tar');
    await download.saveAs(path);
    expect(download.suggestedFilename()).toMatch(/^bundle-[a-z0-9]+-\d{4}-\d\d-\d\d\.tar$/);
    expect((await stat(path)).size).toBe(length);
    const verified = await verifyBundle(path);
    expect(verified.problems).toEqual([]);
    expect(verified.images.map((i) => i.refName)).toEqual([`${repository}:${apple!.version}`]);
  });

  await test.step('Write to server path: a task writes it inside CIDER_BUNDLE_DIR', async () => {
    const target = join(stack.bundleDir!, `bundle-${suffix}-ios-ci-macos-15.2-24C101-with-its-sboms-and-signatures-for-the-site-in-amsterdam-carried-on-a-usb-disk.tar`);
    const form = page.getByRole('form', { name: 'Write the bundle to a server path' });
    await form.getByLabel('Write to server path', { exact: true }).fill(target);
    await form.getByRole('button', { name: 'Write bundle' }).click();
    await expect(form.getByRole('status')).toContainText('Started');
    const row = page.getByTestId('tasks-panel').locator('tr', { hasText: target });
    await expect(row).toHaveAttribute('data-state', 'succeeded', { timeout: 60_000 });
    expect((await verifyBundle(target)).problems).toEqual([]);
    // A long path scrolls inside the tasks table; no card is pushed wider than the window.
    const overflowing = await page.locator('section.card').evaluateAll((cards) => cards.filter((card) => card.scrollWidth > card.clientWidth + 1).map((card) => card.querySelector('h2')?.textContent));
    expect(overflowing).toEqual([]);
    // Outside the directory is refused with what is allowed.
    await form.getByLabel('Write to server path', { exact: true }).fill('/tmp/elsewhere.tar');
    await form.getByRole('button', { name: 'Write bundle' }).click();
    await expect(form.getByRole('alert')).toContainText('must be inside');
  });
});
