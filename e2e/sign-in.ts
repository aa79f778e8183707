// Signing in through the form, as a person would: the one copy every spec uses.
import { expect, type Page } from '@playwright/test';
import type { StackInfo } from './stack-info.ts';

/** Signs in on /sign-in and waits for the overview (where a sign-in with no `next` lands). */
export async function signIn(page: Page, webUrl: string, email: string, password: string): Promise<void> {
  await page.goto(`${webUrl}/sign-in`);
  const form = page.getByRole('form', { name: 'Sign in' });
  await form.getByLabel('Email').fill(email);
  await form.getByLabel('Password').fill(password);
  await form.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Overview' })).toBeVisible();
}

export function signInAsAdmin(page: Page, stack: StackInfo): Promise<void> {
  return signIn(page, stack.webUrl, stack.adminEmail, stack.adminPassword);
}
