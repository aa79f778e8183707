// Pick, don't type (issue 14, item 2 and the project part of item 3): an admin makes projects
// while the form previews the nodes a selector matches, pins the demo image by choosing registry,
// repository and tag (never typing a reference), hears that a re-pin has nothing to fetch, pins
// from a tag's page with "Pin to project…", then renames a project, edits its selector and
// deletes it, cancelling the first confirmation. Shares the stack with the other specs: every
// name here is its own, and the registry is reused when another spec connected it.
import { expect, test, type Page } from '@playwright/test';
import { localRegistryHost } from './api.ts';
import { signInAsAdmin } from './sign-in.ts';
import { stackInfo } from './stack-info.ts';

function shortDigest(digest: string): string {
  const [algorithm, hex = ''] = digest.split(':');
  return `${algorithm}:${hex.slice(0, 12)}`;
}

function nav(page: Page, name: string) {
  return page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true });
}

async function screenshot(page: Page, name: string) {
  await page.screenshot({ path: `test-results/pick-dont-type-${name}.png`, fullPage: true });
}

test('an admin pins by picking, pins from a tag page, and renames, re-selects and deletes a project', async ({ page }) => {
  test.setTimeout(240_000);
  const stack = stackInfo();
  // See admin-journey.spec.ts: the same registry may be connected as 127.0.0.1:<port> or localhost:<port>.
  const localhost = localRegistryHost(stack.registryHost);
  let host = stack.registryHost;

  await test.step('the admin signs in and the registry is connected (reused when it already is)', async () => {
    await signInAsAdmin(page, stack);
    await nav(page, 'Registries').click();
    const rows = page.locator('tr[data-registry]');
    await expect(page.getByText('No registries yet').or(rows.first())).toBeVisible();
    if ((await rows.filter({ hasText: stack.registryHost }).count()) > 0) return;
    host = localhost;
    if ((await rows.filter({ hasText: localhost }).count()) > 0) return;
    const form = page.getByRole('form', { name: 'Add a registry' });
    await form.getByLabel('Name', { exact: true }).fill('local-pick');
    await form.getByLabel('Host', { exact: true }).fill(localhost);
    await form.getByLabel('Plain HTTP').check();
    await form.getByRole('button', { name: 'Add registry' }).click();
    await expect(form.getByRole('status')).toContainText('Added registry local-pick');
  });
  const reference = `${host}/demo/macos:15.2`;

  await test.step('the project form counts the name and previews the nodes a selector matches, live', async () => {
    await nav(page, 'Projects').click();
    const form = page.getByRole('form', { name: 'New project' });
    await form.getByLabel('Name', { exact: true }).fill('pick-tag-page');
    await expect(form.locator('[data-field="counter"]')).toHaveText('13 / 63');
    await form.getByLabel('Team').selectOption({ label: 'Platform' });
    const selector = form.getByLabel('Node selector');
    const preview = form.locator('[data-selector-preview]');
    await selector.fill('pool=demo');
    await expect(preview).toContainText(/Matches \d+ of \d+ nodes: .*demo-mac-1/);
    for (const node of stack.nodes) await expect(preview).toContainText(node);
    await selector.fill('pool=nowhere-pick');
    await expect(preview).toHaveText(/Matches none of the \d+ nodes yet\./);
    await selector.fill('pool');
    await expect(preview).toContainText('not a label selector term');
    await selector.fill('pool=demo');
    await expect(preview).toContainText('demo-mac-1');
    await screenshot(page, 'project-form');
    await form.getByRole('button', { name: 'Create project' }).click();
    await expect(page.getByRole('heading', { level: 1, name: 'pick-tag-page' })).toBeVisible();

    await nav(page, 'Projects').click();
    await form.getByLabel('Name', { exact: true }).fill('PICK-TAG-PAGE');
    await form.getByRole('button', { name: 'Create project' }).click();
    await expect(form.getByRole('alert')).toContainText('A project named "pick-tag-page" already exists');
    await form.getByLabel('Name', { exact: true }).fill('pick-ci');
    await form.getByLabel('Node selector').fill('pool=demo');
    await form.getByRole('button', { name: 'Create project' }).click();
    await expect(page.getByRole('heading', { level: 1, name: 'pick-ci' })).toBeVisible();
  });

  await test.step('the admin pins the demo image by picking registry, repository and tag', async () => {
    const form = page.getByRole('form', { name: 'Pin an image' });
    const modes = form.getByRole('group', { name: 'Mode' });
    await expect(modes.getByRole('radio', { name: 'Follow the tag', exact: true })).toBeChecked();
    await expect(modes).toContainText('When the tag moves to a new image, every node fetches the new one.');
    await expect(modes).toContainText('if the tag moves, the project shows an alert and nothing changes');

    const picker = form.getByRole('group', { name: 'Choose an image' });
    const registry = picker.getByLabel('Registry');
    const option = registry.locator('option').filter({ hasText: `(${host})` });
    await expect(option).toHaveCount(1);
    await registry.selectOption({ label: (await option.textContent()) ?? '' });
    await picker.getByLabel('Repository').selectOption('demo/macos');
    const tag = picker.getByLabel('Tag', { exact: true });
    await expect(tag.locator('option', { hasText: /^15\.2 — version 15\.2 \(24C101\)/ })).toHaveCount(1);
    await tag.selectOption('15.2');
    await expect(picker.getByText(/^version 15\.2 \(24C101\)/)).toBeVisible();
    await expect(form.getByLabel('Image reference')).toHaveValue(reference);
    await modes.getByRole('radio', { name: 'Freeze to this digest', exact: true }).check();
    await screenshot(page, 'pin-form');
    await form.getByRole('button', { name: 'Pin image' }).click();
    await expect(form.getByRole('status')).toContainText(`Pinned ${reference} at ${shortDigest(stack.demoDigest)}`);
    await expect(form.getByLabel('Image reference')).toHaveValue('');
    await expect(page.locator(`tr[data-pin="${reference}"]`)).toContainText('frozen');

    for (const node of stack.nodes) {
      await expect(page.locator(`tr[data-node="${node}"] [data-digest="${stack.demoDigest}"]`)).toContainText('In sync', { timeout: 90_000 });
    }
  });

  await test.step('re-pinning a digest every node holds says so; a missing tag points to the tag list', async () => {
    const form = page.getByRole('form', { name: 'Pin an image' });
    const picker = form.getByRole('group', { name: 'Choose an image' });
    await picker.getByLabel('Tag', { exact: true }).selectOption('');
    await picker.getByLabel('Tag', { exact: true }).selectOption('15.2');
    await form.getByRole('button', { name: 'Pin image' }).click();
    await expect(form.getByRole('status')).toContainText(/already on all \d+ nodes, nothing to fetch\./);
    await expect(form.getByRole('status')).not.toContainText('fetching it');

    await form.getByLabel('Image reference').fill(`${host}/demo/macos:99.9-pick`);
    await form.getByRole('button', { name: 'Pin image' }).click();
    await expect(form.getByRole('alert')).toContainText('Pick one from its tag list: Images →');
    await expect(form.getByRole('alert')).not.toContainText('cider tags');
    await expect(form.getByRole('link', { name: 'Open the tag list of demo/macos' })).toBeVisible();
  });

  await test.step('"Pin to project…" on the tag page pins in a chosen project', async () => {
    await nav(page, 'Images').click();
    await page.locator('tr[data-registry]').filter({ hasText: host }).getByRole('link').click();
    await page.getByLabel('Filter repositories').fill('demo/');
    await page.locator('tr[data-repository="demo/macos"]').getByRole('link', { name: 'demo/macos' }).click();
    await page.locator('tr[data-tag="15.2"]').getByRole('link', { name: 'Tag 15.2' }).click();
    await expect(page.getByRole('heading', { level: 1, name: 'demo/macos:15.2' })).toBeVisible();

    await page.getByRole('button', { name: 'Pin to project…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Pin to project' });
    await expect(dialog).toContainText(reference);
    // Cancel leaves nothing pinned.
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await expect(dialog).toBeHidden();
    await page.getByRole('button', { name: 'Pin to project…' }).click();
    const project = dialog.getByRole('combobox', { name: 'Project', exact: true });
    await project.selectOption({ label: 'pick-tag-page (team Platform, pool=demo)' });
    await expect(dialog.getByRole('radio', { name: 'Follow the tag', exact: true })).toBeChecked();
    await screenshot(page, 'pin-to-project');
    await dialog.getByRole('button', { name: 'Pin', exact: true }).click();
    await expect(dialog.getByRole('status')).toContainText(`Pinned ${reference} at ${shortDigest(stack.demoDigest)}`);
    await dialog.getByRole('link', { name: 'Open pick-tag-page' }).click();
    await expect(page.getByRole('heading', { level: 1, name: 'pick-tag-page' })).toBeVisible();
    await expect(page.locator(`tr[data-pin="${reference}"]`)).toContainText('follows tag');
  });

  await test.step('the admin renames the project (names are unique in any case) and edits its selector', async () => {
    const settings = page.getByRole('region', { name: 'Settings' });
    const rename = settings.getByRole('form', { name: 'Rename project' });
    await rename.getByLabel('Project name').fill('PICK-CI');
    await rename.getByRole('button', { name: 'Rename' }).click();
    await expect(rename.getByRole('alert')).toContainText('A project named "pick-ci" already exists');
    await rename.getByLabel('Project name').fill('pick-renamed');
    await expect(rename.locator('[data-field="counter"]')).toHaveText('12 / 63');
    await rename.getByRole('button', { name: 'Rename' }).click();
    await expect(rename.getByRole('status')).toHaveText('Renamed to pick-renamed.');
    await expect(page.getByRole('heading', { level: 1, name: 'pick-renamed' })).toBeVisible();

    const selector = settings.getByRole('form', { name: 'Edit node selector' });
    await expect(selector.getByLabel('Node selector')).toHaveValue('pool=demo');
    await selector.getByLabel('Node selector').fill('pool=nowhere-pick');
    await expect(selector.locator('[data-selector-preview]')).toHaveText(/Matches none of the \d+ nodes yet\./);
    await selector.getByRole('button', { name: 'Save selector' }).click();
    await expect(selector.getByRole('status')).toHaveText('Selector saved: pool=nowhere-pick.');
    await expect(page.locator('.page-header code', { hasText: 'pool=nowhere-pick' })).toBeVisible();
    await screenshot(page, 'project-settings');
  });

  await test.step('deleting asks first, says cached images stay, and Cancel keeps the project', async () => {
    const settings = page.getByRole('region', { name: 'Settings' });
    await settings.getByRole('button', { name: 'Delete project pick-renamed' }).click();
    const confirm = page.getByRole('alertdialog', { name: 'Confirm: Delete project' });
    await expect(confirm).toContainText('Its 1 pin is removed');
    await expect(confirm).toContainText('Images the nodes already hold are not deleted');
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    await expect(confirm).toHaveCount(0);
    await expect(page.getByRole('heading', { level: 1, name: 'pick-renamed' })).toBeVisible();

    await settings.getByRole('button', { name: 'Delete project pick-renamed' }).click();
    await confirm.getByRole('button', { name: 'Delete project' }).click();
    await expect(page.getByRole('heading', { level: 1, name: 'Projects' })).toBeVisible();
    await expect(page.locator('tr[data-project="pick-ci"]')).toBeVisible();
    await expect(page.locator('tr[data-project="pick-renamed"]')).toHaveCount(0);
  });
});
