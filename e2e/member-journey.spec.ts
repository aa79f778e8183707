// Roles, walked through the dashboard: an admin sets up team "Mobile" with a member and a viewer,
// a project for each of two teams, and an enrollment token; the member pins the demo image in
// their team's project and watches it reach every node, but can't pin in another team's; the
// viewer reads and changes nothing. Shares the stack (and database) with thin-path.spec.ts, so
// every name here is its own and nothing of the other spec is relied on or taken.
import { expect, test, type Page } from '@playwright/test';
import { localRegistryHost } from './api.ts';
import { signIn } from './sign-in.ts';
import { stackInfo } from './stack-info.ts';

function shortDigest(digest: string): string {
  const [algorithm, hex = ''] = digest.split(':');
  return `${algorithm}:${hex.slice(0, 12)}`;
}

const member = { email: 'mobile-member@cider.test', name: 'Mobile Member', password: 'member-journey-password' };
const viewer = { email: 'mobile-viewer@cider.test', name: 'Mobile Viewer', password: 'viewer-journey-password' };

async function screenshot(page: Page, name: string) {
  await page.screenshot({ path: `test-results/member-journey-${name}.png`, fullPage: true });
}

async function signOut(page: Page) {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page.getByRole('form', { name: 'Sign in' })).toBeVisible();
}

async function openProject(page: Page, name: string) {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Projects' }).click();
  await page.locator(`tr[data-project="${name}"]`).getByRole('link', { name }).click();
  await expect(page.getByRole('heading', { level: 1, name })).toBeVisible();
}

/** Someone who may not pin here sees no pin form and no Remove buttons, and is told why. */
async function expectCannotPin(page: Page, team: string) {
  await expect(page.getByText(`Only admins and members of team ${team} can change this project's pins.`)).toBeVisible();
  await expect(page.getByRole('form', { name: 'Pin an image' })).toHaveCount(0);
  await expect(page.getByRole('button', { name: /^Remove pin / })).toHaveCount(0);
}

test('admin sets up a team; its member pins in their own project only; a viewer only reads', async ({ page }) => {
  test.setTimeout(240_000);
  const stack = stackInfo();
  // Pins name their registry by host. thin-path.spec.ts adds this stack's registry under its own
  // name; so that both specs can add theirs in either order, this one reaches the same registry
  // as localhost (a distinct host to the dashboard, the same server underneath).
  const memberHost = localRegistryHost(stack.registryHost);
  let reference = stack.demoReference;

  await test.step('the admin signs in', async () => {
    await signIn(page, stack.webUrl, stack.adminEmail, stack.adminPassword);
  });

  await test.step('the admin creates team Mobile, a member in it and a viewer', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings' }).click();
    await expect(page.getByRole('heading', { level: 1, name: 'Settings' })).toBeVisible();

    const teamForm = page.getByRole('form', { name: 'New team' });
    await teamForm.getByLabel('Team name').fill('Mobile');
    await teamForm.getByRole('button', { name: 'Create team' }).click();
    await expect(teamForm.getByRole('status')).toHaveText('Created team Mobile.');
    const mobile = page.getByRole('article', { name: 'Mobile', exact: true });
    await expect(mobile).toBeVisible();

    const userForm = page.getByRole('form', { name: 'Add a user' });
    await userForm.getByLabel('Email').fill(member.email);
    await userForm.getByLabel('Name', { exact: true }).fill(member.name);
    await userForm.getByLabel('Initial password').fill(member.password);
    await userForm.getByLabel('Role').selectOption('member');
    await userForm.getByRole('button', { name: 'Add user' }).click();
    await expect(userForm.getByRole('status')).toContainText(`Added ${member.email} as member`);

    await userForm.getByLabel('Email').fill(viewer.email);
    await userForm.getByLabel('Name', { exact: true }).fill(viewer.name);
    await userForm.getByLabel('Initial password').fill(viewer.password);
    await userForm.getByLabel('Role').selectOption('viewer');
    await userForm.getByRole('button', { name: 'Add user' }).click();
    await expect(userForm.getByRole('status')).toContainText(`Added ${viewer.email} as viewer`);
    await expect(page.locator(`tr[data-user="${viewer.email}"]`).getByLabel(`Role of ${viewer.email}`, { exact: true })).toHaveValue('viewer');

    // An email that is taken is refused in words.
    await userForm.getByLabel('Email').fill(member.email);
    await userForm.getByLabel('Name', { exact: true }).fill('Someone else');
    await userForm.getByLabel('Initial password').fill('another-long-password');
    await userForm.getByRole('button', { name: 'Add user' }).click();
    await expect(userForm.getByRole('alert')).toHaveText(`A user with email ${member.email} already exists.`);

    const addMember = page.getByRole('form', { name: 'Add a member to Mobile' });
    await addMember.getByLabel('User').selectOption({ label: `${member.name} (${member.email})` });
    await addMember.getByLabel('Team role').selectOption('member');
    await addMember.getByRole('button', { name: 'Add member' }).click();
    await expect(mobile.getByRole('status')).toHaveText(`Added ${member.email} to Mobile as member.`);
    await expect(mobile.getByLabel(`Role of ${member.email} in Mobile`)).toHaveValue('member');
    await expect(page.locator(`tr[data-user="${member.email}"]`)).toContainText('Mobile');
    await screenshot(page, 'settings-admin');
  });

  await test.step('the admin creates an enrollment token and sees it once, with an enroll command that keeps it out of shell history', async () => {
    const form = page.getByRole('form', { name: 'New enrollment token' });
    await form.getByLabel('Token name').fill('mobile rack');
    await form.getByLabel('Labels').fill('pool=mobile, arch=arm64');
    await form.getByLabel('Uses').fill('3');
    await form.getByRole('button', { name: 'Create token' }).click();
    const token = await form.getByRole('textbox', { name: 'Enrollment token', exact: true }).inputValue();
    expect(token).toMatch(/^cen_/);
    // The command takes the token from the clipboard, so it never lands in shell history or `ps`.
    await expect(form.getByRole('textbox', { name: 'Command', exact: true })).toHaveValue('pbpaste | cider-agent enroll --server <control-plane-url> --token-stdin');
    const row = page.locator('tr[data-enrollment-token="mobile rack"]');
    await expect(row).toContainText('arch=arm64, pool=mobile');
    await expect(row).toContainText('active');
    await expect(row).not.toContainText(token);
    await screenshot(page, 'enrollment-token');
  });

  await test.step('the registry is connected (reused when it already is)', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Registries' }).click();
    const rows = page.locator('tr[data-registry]');
    await expect(page.getByText('No registries yet').or(rows.first())).toBeVisible();
    if ((await rows.filter({ hasText: stack.registryHost }).count()) > 0) return;
    reference = stack.demoReference.replace(stack.registryHost, memberHost);
    if ((await rows.filter({ hasText: memberHost }).count()) > 0) return;
    const form = page.getByRole('form', { name: 'Add a registry' });
    await form.getByLabel('Name', { exact: true }).fill('local-member');
    await form.getByLabel('Host', { exact: true }).fill(memberHost);
    await form.getByLabel('Plain HTTP').check();
    await form.getByRole('button', { name: 'Add registry' }).click();
    await expect(form.getByRole('status')).toContainText('Added registry local-member');
  });

  await test.step('the admin creates mobile-ci for Mobile and other-team-ci for Platform', async () => {
    for (const [name, team] of [
      ['mobile-ci', 'Mobile'],
      ['other-team-ci', 'Platform'],
    ] as const) {
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Projects' }).click();
      const form = page.getByRole('form', { name: 'New project' });
      await form.getByLabel('Name', { exact: true }).fill(name);
      await form.getByLabel('Team').selectOption({ label: team });
      await form.getByRole('button', { name: 'Create project' }).click();
      await expect(page.getByRole('heading', { level: 1, name })).toBeVisible();
      await expect(page.getByText(`Team ${team}`)).toBeVisible();
    }
  });

  await test.step('the audit log shows the team change with its before and after', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audit log' }).click();
    const filters = page.getByRole('form', { name: 'Filter the audit log' });
    await filters.getByLabel('Action starts with').fill('team.');
    await filters.getByLabel('Actor').fill(stack.adminEmail);
    await filters.getByRole('button', { name: 'Apply filters' }).click();
    const created = page.locator('tr[data-audit-action="team.create"]');
    await expect(page.locator('tr[data-audit-action="team.member.add"]').first()).toBeVisible();
    await expect(page.locator('tr[data-audit-action]').filter({ hasNotText: 'team.' })).toHaveCount(0);
    // The target by name, and the change in words.
    await expect(created.first()).toHaveAttribute('data-target', 'Mobile');
    await expect(created.first().getByRole('list', { name: /Changes of team.create/ }).locator('li[data-field="Name"]')).toContainText('Name: Mobile');
    await screenshot(page, 'audit');
  });

  await test.step('the admin signs out; the member signs in and sees only their API tokens in settings', async () => {
    await signOut(page);
    await signIn(page, stack.webUrl, member.email, member.password);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings' }).click();
    await expect(page.getByRole('heading', { level: 2, name: 'API tokens' })).toBeVisible();
    for (const admin of ['Users', 'Teams', 'Enrollment tokens']) await expect(page.getByRole('heading', { name: admin, exact: true })).toHaveCount(0);
    await expect(page.getByRole('form', { name: 'Add a user' })).toHaveCount(0);
  });

  await test.step('the member pins the demo image in mobile-ci and every node gets it', async () => {
    await openProject(page, 'mobile-ci');
    const form = page.getByRole('form', { name: 'Pin an image' });
    await form.getByLabel('Image reference').fill(reference);
    await form.getByRole('button', { name: 'Pin image' }).click();
    await expect(form.getByRole('status')).toContainText(shortDigest(stack.demoDigest));
    for (const node of stack.nodes) {
      const row = page.locator(`tr[data-node="${node}"]`);
      await expect(row).toContainText('In sync', { timeout: 90_000 });
      await expect(row.locator(`[data-digest="${stack.demoDigest}"]`)).toBeVisible();
    }
    await screenshot(page, 'member-in-sync');
  });

  await test.step("the member can't pin in another team's project", async () => {
    await openProject(page, 'other-team-ci');
    await expectCannotPin(page, 'Platform');
    await expect(page.getByText('Nothing pinned yet')).toBeVisible();
    await screenshot(page, 'member-refused');
  });

  await test.step('the viewer sees projects and the rollout, and can change nothing', async () => {
    await signOut(page);
    await signIn(page, stack.webUrl, viewer.email, viewer.password);
    await openProject(page, 'mobile-ci');
    for (const node of stack.nodes) await expect(page.locator(`tr[data-node="${node}"]`)).toContainText('In sync');
    await expectCannotPin(page, 'Mobile');
    await expect(page.getByRole('form', { name: 'New project' })).toHaveCount(0);

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings' }).click();
    await expect(page.getByRole('heading', { level: 2, name: 'API tokens' })).toBeVisible();
    for (const admin of ['Users', 'Teams', 'Enrollment tokens']) await expect(page.getByRole('heading', { name: admin, exact: true })).toHaveCount(0);
    for (const form of ['Add a user', 'New team', 'New enrollment token']) await expect(page.getByRole('form', { name: form })).toHaveCount(0);

    // Even a viewer keeps their own API tokens.
    const tokenForm = page.getByRole('form', { name: 'New API token' });
    await tokenForm.getByLabel('Token name').fill('viewer-dashboard-script');
    await tokenForm.getByRole('button', { name: 'Create API token' }).click();
    await expect(tokenForm.getByRole('textbox', { name: 'API token', exact: true })).toHaveValue(/^cat_/);
    await expect(page.locator('tr[data-api-token="viewer-dashboard-script"]')).toContainText('active');
    await screenshot(page, 'viewer-settings');

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audit log' }).click();
    await expect(page.getByText('Only admins can read the audit log.')).toBeVisible();
  });
});
