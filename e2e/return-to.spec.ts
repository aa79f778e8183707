// Signing in brings a visitor back to the page they asked for, and only to a page of this site.
import { expect, test } from '@playwright/test';
import { stackInfo } from './stack-info.ts';

test('sign-in returns to the page asked for, and never to another site', async ({ page }) => {
  const stack = stackInfo();
  const signIn = async () => {
    const form = page.getByRole('form', { name: 'Sign in' });
    await form.getByLabel('Email').fill(stack.adminEmail);
    await form.getByLabel('Password').fill(stack.adminPassword);
    await form.getByRole('button', { name: 'Sign in' }).click();
  };

  // A page with a query, asked for without a session: the sign-in page remembers it.
  await page.goto(`${stack.webUrl}/jobs?state=failed`);
  await expect(page).toHaveURL(`${stack.webUrl}/sign-in?next=${encodeURIComponent('/jobs?state=failed')}`);
  await signIn();
  await expect(page.getByRole('heading', { level: 1, name: 'Jobs' })).toBeVisible();
  await expect(page).toHaveURL(`${stack.webUrl}/jobs?state=failed`);

  // Signed in already: the sign-in page sends on to where `next` points.
  await page.goto(`${stack.webUrl}/sign-in?next=${encodeURIComponent('/nodes')}`);
  await expect(page.getByRole('heading', { level: 1, name: 'Nodes' })).toBeVisible();

  // Another origin in `next` leads to the overview, not away.
  await page.context().clearCookies();
  await page.goto(`${stack.webUrl}/sign-in?next=${encodeURIComponent('//evil.example/x')}`);
  await signIn();
  await expect(page.getByRole('heading', { level: 1, name: 'Overview' })).toBeVisible();
  expect(new URL(page.url()).origin).toBe(stack.webUrl);
});
