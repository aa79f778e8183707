// The users router against real PostgreSQL and Redis: admin-only access, the last-admin guard,
// disabled accounts and password resets ending sessions, the audit trail, and no hash in any answer.
import { describe, expect, it } from 'vitest';
import { apiTokenSession, createApiToken, revokeApiToken, userForApiToken } from '../../services/access/api-tokens.ts';
import { signIn, userForSession } from '../../services/access/auth.ts';
import { failure, invalid, leaks, storedSecrets, testPassword, useRouterHarness } from '../../../testing/test-context.ts';

const harness = useRouterHarness();

describe('users router (real PostgreSQL, Redis)', () => {
  const responses: unknown[] = [];

  it('is for admins only', async () => {
    const member = await harness.user('member');
    const viewer = await harness.user('viewer');
    await expect(harness.caller(undefined).users.list()).rejects.toEqual(failure('UNAUTHORIZED'));
    await expect(harness.caller(member).users.list()).rejects.toEqual(failure('FORBIDDEN', /Only admins/));
    await expect(harness.caller(viewer).users.create({ email: 'x@example.com', name: 'X', password: testPassword, role: 'admin' })).rejects.toEqual(failure('FORBIDDEN'));
    await expect(harness.caller(member).users.setRole({ userId: member.id, role: 'admin' })).rejects.toEqual(failure('FORBIDDEN'));
    expect((await harness.deps.db.user.findUniqueOrThrow({ where: { id: member.id } })).role).toBe('member');
  });

  it('creates users that can sign in, and refuses short passwords and taken emails', async () => {
    const admin = await harness.user('admin');
    const api = harness.caller(admin);
    await expect(api.users.create({ email: 'short@example.com', name: 'Short', password: 'too-short', role: 'member' })).rejects.toEqual(invalid(/at least 10 characters/));
    await expect(api.users.create({ email: 'not-an-email', name: 'Nope', password: testPassword, role: 'member' })).rejects.toEqual(invalid(/Enter an email address/));

    const created = await api.users.create({ email: '  Ana@Example.com ', name: 'Ana', password: 'ana-initial-password', role: 'member' });
    responses.push(created);
    expect(created).toMatchObject({ email: 'ana@example.com', name: 'Ana', role: 'member', disabled: false, teams: [] });
    expect(created).not.toHaveProperty('passwordHash');
    await expect(api.users.create({ email: 'ana@example.com', name: 'Ana again', password: testPassword, role: 'viewer' })).rejects.toEqual(
      failure('CONFLICT', /already exists/),
    );
    const session = await signIn(harness.deps, { email: 'ana@example.com', password: 'ana-initial-password' });
    expect(session.user).toMatchObject({ id: created.id, role: 'member' });

    const audit = await harness.deps.db.auditEvent.findFirstOrThrow({ where: { action: 'user.create', targetId: created.id } });
    expect(audit).toMatchObject({ actorId: admin.id, actor: admin.email, targetType: 'user' });
    expect(audit.after).toMatchObject({ email: 'ana@example.com', role: 'member' });

    const list = await api.users.list();
    responses.push(list);
    expect(list.map((u) => u.email)).toContain('ana@example.com');
    for (const user of list) expect(Object.keys(user).sort()).toEqual(['createdAt', 'disabled', 'disabledAt', 'email', 'id', 'name', 'role', 'teams']);
  });

  it('lists each user with their teams', async () => {
    const admin = await harness.user('admin');
    const team = await harness.deps.db.team.create({ data: { name: 'Listing' } });
    const member = await harness.user('member', { teams: { [team.id]: 'member' } });
    const list = await harness.caller(admin).users.list();
    expect(list.find((u) => u.id === member.id)?.teams).toEqual([{ teamId: team.id, name: 'Listing', role: 'member' }]);
  });

  it('changes roles with before and after in the audit log', async () => {
    const admin = await harness.user('admin');
    const viewer = await harness.user('viewer');
    const updated = await harness.caller(admin).users.setRole({ userId: viewer.id, role: 'member' });
    responses.push(updated);
    expect(updated.role).toBe('member');
    const audit = await harness.deps.db.auditEvent.findFirstOrThrow({ where: { action: 'user.role', targetId: viewer.id } });
    expect(audit.before).toMatchObject({ role: 'viewer' });
    expect(audit.after).toMatchObject({ role: 'member' });
    await expect(harness.caller(admin).users.setRole({ userId: '00000000-0000-4000-8000-000000000000', role: 'member' })).rejects.toEqual(failure('NOT_FOUND'));
  });

  it('disabling ends every session and stops sign-in; enabling lets the user back in', async () => {
    const admin = await harness.user('admin');
    const member = await harness.user('member');
    const session = await signIn(harness.deps, { email: member.email, password: testPassword });
    expect(await userForSession(harness.deps, session.token)).toMatchObject({ id: member.id });

    const disabled = await harness.caller(admin).users.setDisabled({ userId: member.id, disabled: true });
    responses.push(disabled);
    expect(disabled).toMatchObject({ disabled: true });
    expect(await harness.deps.db.session.count({ where: { userId: member.id } })).toBe(0);
    expect(await userForSession(harness.deps, session.token)).toBeUndefined();
    await expect(signIn(harness.deps, { email: member.email, password: testPassword })).rejects.toMatchObject({ code: 'UNAUTHENTICATED', message: 'This account is disabled.' });

    const enabled = await harness.caller(admin).users.setDisabled({ userId: member.id, disabled: false });
    expect(enabled).toMatchObject({ disabled: false, disabledAt: null });
    await expect(signIn(harness.deps, { email: member.email, password: testPassword })).resolves.toMatchObject({ user: { id: member.id } });
    const actions = await harness.deps.db.auditEvent.findMany({ where: { targetId: member.id }, orderBy: { id: 'asc' }, select: { action: true } });
    expect(actions.map((a) => a.action)).toEqual(['user.disable', 'user.enable']);
  });

  it('resetting a password ends every session and revokes every API token (audited); only the new password signs in', async () => {
    const admin = await harness.user('admin');
    const member = await harness.user('member');
    const bystander = await harness.user('member');
    await signIn(harness.deps, { email: member.email, password: testPassword });
    await signIn(harness.deps, { email: member.email, password: testPassword });
    const first = await createApiToken(harness.deps, { userId: member.id, label: member.email }, { userId: member.id, name: 'laptop' });
    const second = await createApiToken(harness.deps, { userId: member.id, label: member.email }, { userId: member.id, name: 'ci' });
    const already = await createApiToken(harness.deps, { userId: member.id, label: member.email }, { userId: member.id, name: 'old' });
    await revokeApiToken(harness.deps, { userId: member.id, label: member.email }, { tokenId: already.apiToken.id });
    const theirs = await createApiToken(harness.deps, { userId: bystander.id, label: bystander.email }, { userId: bystander.id, name: 'theirs' });
    await expect(harness.caller(admin).users.resetPassword({ userId: member.id, password: 'short' })).rejects.toEqual(invalid(/at least 10/));
    expect(await userForApiToken(harness.deps, first.token)).toMatchObject({ id: member.id });

    const result = await harness.caller(admin).users.resetPassword({ userId: member.id, password: 'a brand new password' });
    responses.push(result);
    expect(result).toEqual({ sessionsEnded: 2, apiTokensRevoked: 2 });
    expect(await harness.deps.db.session.count({ where: { userId: member.id } })).toBe(0);
    expect(await userForApiToken(harness.deps, first.token)).toBeUndefined();
    expect(await userForApiToken(harness.deps, second.token)).toBeUndefined();
    expect(await userForApiToken(harness.deps, theirs.token)).toMatchObject({ id: bystander.id });
    const revocations = await harness.deps.db.auditEvent.findMany({ where: { action: 'api-token.revoke', actorId: admin.id }, select: { targetId: true } });
    expect(revocations.map((r) => r.targetId).sort()).toEqual([first.apiToken.id, second.apiToken.id].sort());
    await expect(signIn(harness.deps, { email: member.email, password: testPassword })).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(signIn(harness.deps, { email: member.email, password: 'a brand new password' })).resolves.toMatchObject({ user: { id: member.id } });
    const audit = await harness.deps.db.auditEvent.findFirstOrThrow({ where: { action: 'user.reset-password', targetId: member.id } });
    expect(JSON.stringify(audit.after)).not.toContain('a brand new password');
    expect(audit.after).toMatchObject({ sessionsEnded: 2, apiKeysRevoked: 2 });
  });

  it('never demotes or disables the last active admin', async () => {
    // Only this test's users are admins here: earlier tests' admins are demoted first.
    const others = await harness.deps.db.user.findMany({ where: { role: 'admin' } });
    const admin = await harness.user('admin');
    const api = harness.caller(admin);
    for (const other of others) await api.users.setRole({ userId: other.id, role: 'viewer' });

    await expect(api.users.setRole({ userId: admin.id, role: 'member' })).rejects.toEqual(failure('CONFLICT', /You are the last active admin/));
    await expect(api.users.setDisabled({ userId: admin.id, disabled: true })).rejects.toEqual(failure('CONFLICT', /last active admin/));
    expect(await harness.deps.db.user.findUniqueOrThrow({ where: { id: admin.id } })).toMatchObject({ role: 'admin', disabledAt: null });

    // A disabled admin doesn't count as a way back in.
    const second = await harness.user('admin');
    await api.users.setDisabled({ userId: second.id, disabled: true });
    await expect(api.users.setRole({ userId: admin.id, role: 'viewer' })).rejects.toEqual(failure('CONFLICT', /last active admin/));

    // With another active admin, stepping down works; then that one is the last.
    await api.users.setDisabled({ userId: second.id, disabled: false });
    await api.users.setRole({ userId: admin.id, role: 'member' });
    await expect(harness.caller(second).users.setDisabled({ userId: second.id, disabled: true })).rejects.toEqual(failure('CONFLICT', /You are the last active admin/));
    await expect(harness.caller(second).users.setRole({ userId: second.id, role: 'viewer' })).rejects.toEqual(failure('CONFLICT'));
    expect(await harness.deps.db.user.count({ where: { role: 'admin', disabledAt: null } })).toBe(1);
  });

  it('two admins demoting each other at once leave one admin', async () => {
    await harness.deps.db.user.updateMany({ where: { role: 'admin' }, data: { role: 'viewer' } });
    const a = await harness.user('admin');
    const b = await harness.user('admin');
    const results = await Promise.allSettled([
      harness.caller(a).users.setRole({ userId: b.id, role: 'member' }),
      harness.caller(b).users.setRole({ userId: a.id, role: 'member' }),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(await harness.deps.db.user.count({ where: { role: 'admin', disabledAt: null } })).toBe(1);
  });

  it('an admin calling with an API token may list users but not change accounts', async () => {
    const admin = await harness.user('admin');
    const member = await harness.user('member');
    const { token } = await createApiToken(harness.deps, { userId: admin.id, label: admin.email }, { userId: admin.id, name: 'admin script', expiresInDays: 7 });
    const session = await apiTokenSession(harness.deps, token);
    const api = harness.caller(session!.user, { apiToken: session!.apiToken });
    expect((await api.users.list()).map((u) => u.id)).toContain(member.id);
    const before = await harness.deps.db.user.findUniqueOrThrow({ where: { id: member.id } });
    const refused = failure('FORBIDDEN', /needs an admin signed in to the dashboard/);
    await expect(api.users.create({ email: 'minted@example.com', name: 'Minted', password: testPassword, role: 'admin' })).rejects.toEqual(refused);
    await expect(api.users.setRole({ userId: member.id, role: 'admin' })).rejects.toEqual(refused);
    await expect(api.users.setDisabled({ userId: member.id, disabled: true })).rejects.toEqual(refused);
    await expect(api.users.resetPassword({ userId: member.id, password: 'known to the token holder' })).rejects.toEqual(refused);
    expect(await harness.deps.db.user.findUniqueOrThrow({ where: { id: member.id } })).toEqual(before);
    expect(await harness.deps.db.user.count({ where: { email: 'minted@example.com' } })).toBe(0);
  });

  it('no answer carries a password hash or token hash', async () => {
    const admin = await harness.user('admin');
    responses.push(await harness.caller(admin).users.list());
    const secrets = await storedSecrets(harness.deps);
    expect(secrets.length).toBeGreaterThan(5);
    expect(leaks(responses, secrets)).toEqual([]);
    const audit = await harness.deps.db.auditEvent.findMany({ where: { targetType: 'user' } });
    expect(leaks(audit, secrets)).toEqual([]);
  });
});
