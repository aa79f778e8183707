// Node identity from the dashboard: an admin enrolls a Mac (over the control plane's enrollment
// endpoint, as an agent would), then on its node page tries to rotate the secret of the offline
// node (refused, in words), allows a replacement and revokes it, each after a confirmation that
// says what it does. Uses a node of its own: the demo nodes other specs rely on stay as they are.
import { expect, test, type Page } from '@playwright/test';
import { enrollNode } from './sim-nodes.ts';
import { signInAsAdmin } from './sign-in.ts';
import { stackInfo } from './stack-info.ts';

async function screenshot(page: Page, name: string) {
  await page.screenshot({ path: `test-results/node-identity-${name}.png`, fullPage: true });
}

const nodeName = 'identity-mac';

test('an admin rotates, allows replacing and revokes a node from its page, confirming each', async ({ page }) => {
  const stack = stackInfo();
  await signInAsAdmin(page, stack);

  let nodeId = '';
  await test.step('a Mac enrolls with a token the admin made', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings' }).click();
    const form = page.getByRole('form', { name: 'New enrollment token' });
    await form.getByLabel('Token name').fill('identity rack');
    await form.getByLabel('Uses').fill('1');
    await form.getByRole('button', { name: 'Create token' }).click();
    const token = await form.getByRole('textbox', { name: 'Enrollment token', exact: true }).inputValue();
    ({ nodeId } = await enrollNode(stack.controlUrl, token, { name: nodeName, labels: {} }));
    await page.goto(`${stack.webUrl}/nodes/${nodeId}`);
    await expect(page.getByRole('heading', { level: 1, name: nodeName })).toBeVisible();
  });

  const identity = page.getByRole('region', { name: 'Identity' });
  const confirm = (action: string) => page.getByRole('alertdialog', { name: `Confirm: ${action}` });

  await test.step('rotating the secret of an offline node is refused, saying why', async () => {
    await identity.getByRole('button', { name: `Rotate secret ${nodeName}` }).click();
    await expect(confirm('Rotate secret')).toContainText('The agent must be online.');
    await confirm('Rotate secret').getByRole('button', { name: 'Rotate secret' }).click();
    await expect(identity.getByRole('alert')).toContainText(`${nodeName} is offline: its agent must be connected to receive a new secret`);
  });

  await test.step('cancelling a confirmation changes nothing', async () => {
    await identity.getByRole('button', { name: `Revoke ${nodeName}` }).click();
    await confirm('Revoke node').getByRole('button', { name: 'Cancel' }).click();
    await expect(confirm('Revoke node')).toHaveCount(0);
    await expect(page.getByText('revoked', { exact: true })).toHaveCount(0);
  });

  await test.step('allowing a replacement opens a 24-hour window', async () => {
    await identity.getByRole('button', { name: `Allow replacement ${nodeName}` }).click();
    await confirm('Allow replacement').getByRole('button', { name: 'Allow replacement' }).click();
    await expect(identity.getByRole('status')).toContainText(`enrolling a Mac as "${nodeName}"`);
    await expect(identity).toContainText(`A new enrollment as "${nodeName}" replaces this node until`);
  });

  await test.step('revoking shows the node as revoked, with only a replacement left to allow', async () => {
    await identity.getByRole('button', { name: `Revoke ${nodeName}` }).click();
    await expect(confirm('Revoke node')).toContainText('can no longer connect');
    await confirm('Revoke node').getByRole('button', { name: 'Revoke node' }).click();
    await expect(identity.getByRole('status')).toContainText(`Revoked ${nodeName}:`);
    await expect(page.getByText('revoked', { exact: true }).first()).toBeVisible();
    await expect(identity.getByRole('button', { name: `Revoke ${nodeName}` })).toHaveCount(0);
    await expect(identity.getByRole('button', { name: `Allow replacement ${nodeName}` })).toBeVisible();
    await screenshot(page, 'revoked');
  });
});
