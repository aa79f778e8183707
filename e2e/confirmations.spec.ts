// Actions that cannot be undone ask first: revoking an API token from Settings shows what will
// happen, Cancel leaves the token working, and only the confirming button revokes it.
import { expect, test } from '@playwright/test';
import { signInAsAdmin } from './sign-in.ts';
import { stackInfo } from './stack-info.ts';

test('revoking an API token asks first; Cancel keeps it, confirming revokes it', async ({ page }) => {
  const stack = stackInfo();
  await signInAsAdmin(page, stack);

  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings' }).click();
  const form = page.getByRole('form', { name: 'New API token' }).first();
  await form.getByLabel('Token name').fill('confirm-me');
  await form.getByRole('button', { name: 'Create API token' }).click();
  const token = await form.getByRole('textbox', { name: 'API token', exact: true }).inputValue();
  const row = page.locator('tr[data-api-token="confirm-me"]').first();
  const dialog = page.getByRole('alertdialog', { name: 'Confirm: Revoke token' });
  const works = async () => (await fetch(`${stack.webUrl}/api/trpc/registries.list`, { headers: { authorization: `Bearer ${token}` } })).status;

  await row.getByRole('button', { name: 'Revoke API token confirm-me' }).click();
  await expect(dialog).toContainText('Scripts using it are refused from now on.');
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await expect(dialog).toHaveCount(0);
  await expect(row).toContainText('active');
  expect(await works()).toBe(200);

  await row.getByRole('button', { name: 'Revoke API token confirm-me' }).click();
  await dialog.getByRole('button', { name: 'Revoke token' }).click();
  await expect(row).toContainText('revoked');
  await expect(dialog).toHaveCount(0);
  expect(await works()).toBe(401);
});
