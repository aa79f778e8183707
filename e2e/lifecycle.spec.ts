// The lifecycle of registries, teams and nodes from the dashboard (issue 14, item 3): names show
// their limit as you type and clash regardless of case; a team is renamed; a registry is edited,
// refused deletion while a project pins from it (naming the project), and deleted once it does
// not; a node is decommissioned after a confirmation that offers to purge its cache, and leaves
// the nodes list unless asked for. Uses names, a registry address and a node of its own: the
// stack's registry is reached through a forwarder on a port only this spec uses.
import { createServer, connect, type Server } from 'node:net';
import { expect, test, type Page } from '@playwright/test';
import { enrollNode } from './sim-nodes.ts';
import { signInAsAdmin } from './sign-in.ts';
import { stackInfo } from './stack-info.ts';

async function screenshot(page: Page, name: string) {
  await page.screenshot({ path: `test-results/lifecycle-${name}.png`, fullPage: true });
}

/** A TCP forwarder to the registry: the same registry under an address no other spec connects. */
async function forwardTo(target: string): Promise<{ host: string; server: Server }> {
  const [host, port] = target.split(':') as [string, string];
  const server = createServer((client) => {
    const upstream = connect(Number(port), host);
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('forwarder has no port');
  return { host: `127.0.0.1:${address.port}`, server };
}

const nav = (page: Page, name: string) => page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name });

test('an admin names, renames, edits and deletes teams and registries, and decommissions a node, confirming each', async ({ page }) => {
  const stack = stackInfo();
  const forwarder = await forwardTo(stack.registryHost);
  try {
    await signInAsAdmin(page, stack);

    await test.step('a team name shows its limit as it is typed; too long is said, not cut', async () => {
      await nav(page, 'Settings').click();
      const form = page.getByRole('form', { name: 'New team' });
      const name = form.getByLabel('Team name');
      await name.fill('Lifecycle QA');
      await expect(form.locator('[data-field="counter"]')).toHaveText('12 / 63');
      await name.fill('L'.repeat(70));
      await expect(name).toHaveValue('L'.repeat(70));
      await expect(form.getByRole('alert')).toContainText('too long: Team names are at most 63 characters');
      await form.getByRole('button', { name: 'Create team' }).click();
      await expect(form.getByRole('alert').filter({ hasText: 'name: Team names are at most 63 characters.' })).toBeVisible();
      await screenshot(page, 'name-too-long');
    });

    await test.step('names clash regardless of case, and the error names the existing one', async () => {
      const form = page.getByRole('form', { name: 'New team' });
      await form.getByLabel('Team name').fill('Lifecycle QA');
      await form.getByRole('button', { name: 'Create team' }).click();
      await expect(form.getByRole('status')).toContainText('Created team Lifecycle QA.');
      await form.getByLabel('Team name').fill('lifecycle qa');
      await form.getByRole('button', { name: 'Create team' }).click();
      await expect(form.getByRole('alert')).toContainText('A team named "Lifecycle QA" already exists; names ignore case, so "lifecycle qa" is taken too.');
    });

    await test.step('the team is renamed', async () => {
      const panel = page.getByRole('article', { name: 'Lifecycle QA' });
      await panel.getByRole('button', { name: 'Rename team Lifecycle QA' }).click();
      const rename = panel.getByRole('form', { name: 'Rename team Lifecycle QA' });
      await rename.getByLabel('New name').fill('Lifecycle Quality');
      await expect(rename.locator('[data-field="counter"]')).toHaveText('17 / 63');
      await rename.getByRole('button', { name: 'Save name' }).click();
      const renamed = page.getByRole('article', { name: 'Lifecycle Quality' });
      await expect(renamed.getByRole('status')).toContainText('Renamed team Lifecycle QA to Lifecycle Quality.');
    });

    await test.step('deleting a team asks first; Cancel keeps it', async () => {
      const form = page.getByRole('form', { name: 'New team' });
      await form.getByLabel('Team name').fill('Lifecycle Spare');
      await form.getByRole('button', { name: 'Create team' }).click();
      const spare = page.getByRole('article', { name: 'Lifecycle Spare' });
      const dialog = spare.getByRole('alertdialog', { name: 'Confirm: Delete team' });
      await spare.getByRole('button', { name: 'Delete team Lifecycle Spare' }).click();
      await expect(dialog).toContainText("A team that owns projects can't be deleted.");
      await dialog.getByRole('button', { name: 'Cancel' }).click();
      await expect(dialog).toHaveCount(0);
      await spare.getByRole('button', { name: 'Delete team Lifecycle Spare' }).click();
      await dialog.getByRole('button', { name: 'Delete team' }).click();
      await expect(page.getByRole('article', { name: 'Lifecycle Spare' })).toHaveCount(0);
    });

    const row = () => page.locator('tr[data-registry]').filter({ hasText: forwarder.host });
    await test.step('a registry is connected, then renamed in its row', async () => {
      await nav(page, 'Registries').click();
      const form = page.getByRole('form', { name: 'Add a registry' });
      await form.getByLabel('Name', { exact: true }).fill('Lifecycle registry');
      await expect(form.locator('[data-field="counter"]')).toHaveText('18 / 100');
      await form.getByLabel('Host', { exact: true }).fill(forwarder.host);
      await form.getByLabel('Plain HTTP').check();
      await form.getByRole('button', { name: 'Add registry' }).click();
      await expect(form.getByRole('status')).toContainText('Added registry Lifecycle registry');

      await row().getByRole('button', { name: 'Edit registry Lifecycle registry' }).click();
      const edit = page.getByRole('form', { name: 'Edit registry Lifecycle registry' });
      await edit.getByLabel('Name', { exact: true }).fill('Lifecycle images');
      await edit.getByRole('button', { name: 'Save registry' }).click();
      await expect(page.getByRole('status').filter({ hasText: `Saved registry Lifecycle images (${forwarder.host}).` })).toBeVisible();
      await expect(row()).toContainText('Lifecycle images');
    });

    const reference = stack.demoReference.replace(stack.registryHost, forwarder.host);
    await test.step('a project on no nodes pins an image from it', async () => {
      await nav(page, 'Projects').click();
      const form = page.getByRole('form', { name: 'New project' });
      await form.getByLabel('Name', { exact: true }).fill('lifecycle-ci');
      await form.getByLabel('Team').selectOption({ label: 'Lifecycle Quality' });
      await form.getByLabel('Node selector').fill('lifecycle=nowhere');
      await form.getByRole('button', { name: 'Create project' }).click();
      await expect(page.getByRole('heading', { level: 1, name: 'lifecycle-ci' })).toBeVisible();
      const pin = page.getByRole('form', { name: 'Pin an image' });
      await pin.getByLabel('Image reference').fill(reference);
      await pin.getByRole('button', { name: 'Pin image' }).click();
      await expect(pin.getByRole('status')).toBeVisible();
    });

    await test.step('deleting the registry asks first, and is refused while the project pins from it', async () => {
      await nav(page, 'Registries').click();
      const dialog = page.getByRole('alertdialog', { name: 'Confirm: Delete registry' });
      await row().getByRole('button', { name: 'Delete registry Lifecycle images' }).click();
      await expect(dialog).toContainText("A registry that pins use can't be deleted.");
      await dialog.getByRole('button', { name: 'Delete registry' }).click();
      await expect(page.getByRole('alert').filter({ hasText: 'Registry "Lifecycle images" is used by pins in project "lifecycle-ci". Remove those pins first' })).toBeVisible();
      await expect(row()).toHaveCount(1);
      await screenshot(page, 'registry-refused');
    });

    await test.step('once the pin is removed, the registry is deleted', async () => {
      await nav(page, 'Projects').click();
      await page.getByRole('link', { name: 'lifecycle-ci' }).click();
      await page.getByRole('button', { name: `Remove pin ${reference}` }).click();
      await page.getByRole('alertdialog', { name: 'Confirm: Remove pin' }).getByRole('button', { name: 'Remove pin' }).click();
      await expect(page.getByRole('button', { name: `Remove pin ${reference}` })).toHaveCount(0);

      await nav(page, 'Registries').click();
      await row().getByRole('button', { name: 'Delete registry Lifecycle images' }).click();
      await page.getByRole('alertdialog', { name: 'Confirm: Delete registry' }).getByRole('button', { name: 'Delete registry' }).click();
      await expect(page.getByRole('status').filter({ hasText: 'Deleted registry Lifecycle images.' })).toBeVisible();
      await expect(row()).toHaveCount(0);
    });

    const nodeName = 'lifecycle-mac';
    let nodeId = '';
    await test.step('a Mac enrolls', async () => {
      await nav(page, 'Settings').click();
      const form = page.getByRole('form', { name: 'New enrollment token' });
      await form.getByLabel('Token name').fill('lifecycle rack');
      await form.getByLabel('Uses').fill('1');
      await form.getByRole('button', { name: 'Create token' }).click();
      const token = await form.getByRole('textbox', { name: 'Enrollment token', exact: true }).inputValue();
      ({ nodeId } = await enrollNode(stack.controlUrl, token, { name: nodeName, labels: {} }));
      await nav(page, 'Nodes').click();
      await expect(page.locator(`tr[data-node="${nodeName}"]`)).toBeVisible();
    });

    await test.step('decommissioning asks first, offering to purge the cache, and takes the node out of the list', async () => {
      await page.goto(`${stack.webUrl}/nodes/${nodeId}`);
      const identity = page.getByRole('region', { name: 'Identity' });
      const dialog = page.getByRole('alertdialog', { name: 'Confirm: Decommission node' });
      await identity.getByRole('button', { name: `Decommission ${nodeName}` }).click();
      await expect(dialog).toContainText('leaves the fleet');
      await expect(dialog.getByRole('radio', { name: 'Keep them on the Mac' })).toBeChecked();
      await dialog.getByRole('button', { name: 'Cancel' }).click();
      await expect(dialog).toHaveCount(0);

      await identity.getByRole('button', { name: `Decommission ${nodeName}` }).click();
      await dialog.getByRole('radio', { name: /Purge the cache/ }).check();
      await screenshot(page, 'decommission-confirm');
      await dialog.getByRole('button', { name: 'Decommission node' }).click();
      await expect(identity.getByRole('status')).toContainText(`Decommissioned ${nodeName}:`);
      await expect(identity.getByRole('status')).toContainText('its agent is not connected, so its cache could not be purged');
      await expect(identity).toContainText('not counted in the fleet');

      await nav(page, 'Nodes').click();
      await expect(page.locator('tr[data-node]').first()).toBeVisible();
      await expect(page.locator(`tr[data-node="${nodeName}"]`)).toHaveCount(0);
      await page.getByRole('search', { name: 'Filter nodes' }).getByLabel('State').selectOption('revoked');
      await expect(page.locator(`tr[data-node="${nodeName}"]`)).toContainText('decommissioned');
    });
  } finally {
    await new Promise((resolve) => forwarder.server.close(resolve));
  }
});
