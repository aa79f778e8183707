// Enrollment and API tokens against real PostgreSQL and Redis: shown once, stored as sha256,
// listed without secrets, revocable; API tokens authenticate as their (enabled) user.
import { describe, expect, it } from 'vitest';
import { hashToken } from '../../crypto.ts';
import { apiTokenSession, createApiToken, userForApiToken } from '../../services/access/api-tokens.ts';
import { enrollNode } from '../../services/nodes/nodes.ts';
import { failure, invalid, leaks, storedSecrets, useRouterHarness } from '../../../testing/test-context.ts';

const harness = useRouterHarness();

describe('enrollment tokens (real PostgreSQL, Redis)', () => {
  const responses: unknown[] = [];

  it('are for admins only', async () => {
    for (const role of ['member', 'viewer'] as const) {
      const api = harness.caller(await harness.user(role));
      await expect(api.tokens.enrollment.list()).rejects.toEqual(failure('FORBIDDEN'));
      await expect(api.tokens.enrollment.create({ name: 'sneaky' })).rejects.toEqual(failure('FORBIDDEN'));
      await expect(api.tokens.enrollment.revoke({ tokenId: '00000000-0000-4000-8000-000000000000' })).rejects.toEqual(failure('FORBIDDEN'));
    }
    expect(await harness.deps.db.enrollmentToken.count()).toBe(0);
  });

  it('are shown once, listed with labels, uses and creator, and stop working when revoked', async () => {
    const admin = await harness.user('admin');
    const api = harness.caller(admin);
    await expect(api.tokens.enrollment.create({ name: 'bad labels', labels: 'pool ios' })).rejects.toEqual(failure('BAD_REQUEST', /not a label selector term/));
    await expect(api.tokens.enrollment.create({ name: 'zero uses', usesLeft: 0 })).rejects.toEqual(invalid(/Uses must be at least 1/));

    const created = await api.tokens.enrollment.create({ name: 'rack 2', labels: 'pool=ios-ci, arch=arm64', usesLeft: 2, expiresInHours: 24 });
    responses.push(created);
    expect(created.token).toMatch(/^cen_[A-Za-z0-9_-]{43}$/);
    const row = await harness.deps.db.enrollmentToken.findUniqueOrThrow({ where: { id: created.id } });
    expect(row.tokenHash).toBe(hashToken(created.token));

    const list = await api.tokens.enrollment.list();
    responses.push(list);
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ id: created.id, name: 'rack 2', labels: { pool: 'ios-ci', arch: 'arm64' }, usesLeft: 2, createdBy: admin.email, revokedAt: null, status: 'active' });
    expect(list[0]!.expiresAt!.getTime()).toBeGreaterThan(Date.now() + 23 * 3_600_000);
    expect(JSON.stringify(list)).not.toContain(created.token);

    const node = await enrollNode(harness.deps, { token: created.token, name: 'mac-1', labels: {} });
    expect((await harness.deps.db.node.findUniqueOrThrow({ where: { id: node.nodeId } })).labels).toEqual({ pool: 'ios-ci', arch: 'arm64' });
    expect((await api.tokens.enrollment.list())[0]).toMatchObject({ usesLeft: 1, status: 'active' });

    const revoked = await api.tokens.enrollment.revoke({ tokenId: created.id });
    responses.push(revoked);
    expect(revoked).toMatchObject({ status: 'revoked' });
    expect(revoked.revokedAt).toBeInstanceOf(Date);
    await expect(enrollNode(harness.deps, { token: created.token, name: 'mac-2', labels: {} })).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    // Revoking again changes nothing and records nothing more.
    await api.tokens.enrollment.revoke({ tokenId: created.id });
    const audit = await harness.deps.db.auditEvent.findMany({ where: { targetType: 'enrollmentToken', targetId: created.id }, orderBy: { id: 'asc' } });
    expect(audit.map((a) => a.action)).toEqual(['enrollment-token.create', 'enrollment-token.revoke']);
    expect(leaks(audit, [created.token, row.tokenHash])).toEqual([]);
  });

  it('show when they are used up or expired', async () => {
    const api = harness.caller(await harness.user('admin'));
    const once = await api.tokens.enrollment.create({ name: 'once', usesLeft: 1 });
    await enrollNode(harness.deps, { token: once.token, name: 'mac-once', labels: {} });
    const old = await api.tokens.enrollment.create({ name: 'old', expiresInHours: 1 });
    await harness.deps.db.enrollmentToken.update({ where: { id: old.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    const list = await api.tokens.enrollment.list();
    expect(list.find((t) => t.id === once.id)).toMatchObject({ usesLeft: 0, status: 'used-up' });
    expect(list.find((t) => t.id === old.id)).toMatchObject({ status: 'expired' });
  });

  it('no answer carries a token or its hash', async () => {
    expect(leaks(responses, await storedSecrets(harness.deps))).toEqual([]);
  });
});

describe('API tokens (real PostgreSQL, Redis)', () => {
  const responses: unknown[] = [];

  it('round trip: create, authenticate as the owner, revoke', async () => {
    const team = await harness.deps.db.team.create({ data: { name: 'Tokens' } });
    const member = await harness.user('member', { teams: { [team.id]: 'member' } });
    const api = harness.caller(member);
    await expect(harness.caller(undefined).tokens.api.create({ name: 'anon' })).rejects.toEqual(failure('UNAUTHORIZED'));

    const created = await api.tokens.api.create({ name: 'ci-runner', expiresInDays: 30 });
    responses.push(created);
    expect(created.token).toMatch(/^cat_[A-Za-z0-9_-]{43}$/);
    expect(created.apiToken).toMatchObject({ name: 'ci-runner', lastUsedAt: null, revokedAt: null, user: { id: member.id, email: member.email } });
    const stored = await harness.deps.db.apiToken.findUniqueOrThrow({ where: { id: created.apiToken.id } });
    expect(stored.tokenHash).toBe(hashToken(created.token));

    expect(await userForApiToken(harness.deps, created.token)).toEqual({ id: member.id, email: member.email, name: member.name, role: 'member', teams: [{ teamId: team.id, role: 'member' }] });
    const used = await harness.deps.db.apiToken.findUniqueOrThrow({ where: { id: stored.id } });
    expect(used.lastUsedAt).toBeInstanceOf(Date);
    // Within a minute, use is not written again.
    await userForApiToken(harness.deps, created.token);
    expect((await harness.deps.db.apiToken.findUniqueOrThrow({ where: { id: stored.id } })).lastUsedAt).toEqual(used.lastUsedAt);
    // ...but after a minute it is.
    await harness.deps.db.apiToken.update({ where: { id: stored.id }, data: { lastUsedAt: new Date(Date.now() - 61_000) } });
    await userForApiToken(harness.deps, created.token);
    expect((await harness.deps.db.apiToken.findUniqueOrThrow({ where: { id: stored.id } })).lastUsedAt!.getTime()).toBeGreaterThan(Date.now() - 5_000);

    // The token's user calls the API like a signed-in session would.
    const asToken = harness.caller(await userForApiToken(harness.deps, created.token));
    expect((await asToken.tokens.api.list()).map((t) => t.id)).toEqual([stored.id]);

    const list = await api.tokens.api.list();
    responses.push(list);
    expect(list).toEqual([expect.objectContaining({ id: stored.id, name: 'ci-runner' })]);
    expect(list[0]!.lastUsedAt).toBeInstanceOf(Date);

    const revoked = await api.tokens.api.revoke({ tokenId: stored.id });
    responses.push(revoked);
    expect(revoked.revokedAt).toBeInstanceOf(Date);
    expect(await userForApiToken(harness.deps, created.token)).toBeUndefined();
    const audit = await harness.deps.db.auditEvent.findMany({ where: { targetType: 'apiToken', targetId: stored.id }, orderBy: { id: 'asc' } });
    expect(audit.map((a) => [a.action, a.actor])).toEqual([
      ['api-token.create', member.email],
      ['api-token.revoke', member.email],
    ]);
  });

  it('refuses unknown, malformed, expired tokens and tokens of disabled users', async () => {
    const member = await harness.user('member');
    const { token, apiToken } = await harness.caller(member).tokens.api.create({ name: 'short-lived' });
    expect(await userForApiToken(harness.deps, undefined)).toBeUndefined();
    expect(await userForApiToken(harness.deps, '')).toBeUndefined();
    expect(await userForApiToken(harness.deps, `${token}x`)).toBeUndefined();
    expect(await userForApiToken(harness.deps, token.replace(/^cat_/, 'cs_'))).toBeUndefined();

    const admin = await harness.user('admin');
    await harness.caller(admin).users.setDisabled({ userId: member.id, disabled: true });
    expect(await userForApiToken(harness.deps, token)).toBeUndefined();
    await harness.caller(admin).users.setDisabled({ userId: member.id, disabled: false });
    expect(await userForApiToken(harness.deps, token)).toMatchObject({ id: member.id });

    await harness.deps.db.apiToken.update({ where: { id: apiToken.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    expect(await userForApiToken(harness.deps, token)).toBeUndefined();
  });

  it('are private to their owner; admins list and revoke anyone’s', async () => {
    const owner = await harness.user('viewer');
    const other = await harness.user('member');
    const admin = await harness.user('admin');
    const { token, apiToken } = await harness.caller(owner).tokens.api.create({ name: 'viewer script' });

    expect((await harness.caller(other).tokens.api.list()).map((t) => t.id)).not.toContain(apiToken.id);
    await expect(harness.caller(other).tokens.api.list({ scope: 'all' })).rejects.toEqual(failure('FORBIDDEN', /Only admins/));
    await expect(harness.caller(other).tokens.api.revoke({ tokenId: apiToken.id })).rejects.toEqual(failure('NOT_FOUND'));
    expect(await userForApiToken(harness.deps, token)).toMatchObject({ id: owner.id, role: 'viewer' });

    const all = await harness.caller(admin).tokens.api.list({ scope: 'all' });
    responses.push(all);
    expect(all.find((t) => t.id === apiToken.id)).toMatchObject({ user: { email: owner.email } });
    expect((await harness.caller(admin).tokens.api.list()).map((t) => t.id)).not.toContain(apiToken.id);
    await harness.caller(admin).tokens.api.revoke({ tokenId: apiToken.id });
    expect(await userForApiToken(harness.deps, token)).toBeUndefined();
    const audit = await harness.deps.db.auditEvent.findFirstOrThrow({ where: { action: 'api-token.revoke', targetId: apiToken.id } });
    expect(audit.actor).toBe(admin.email);
  });

  it('expire after 90 days unless asked otherwise, never "never", at most the deployment maximum', async () => {
    const member = await harness.user('member');
    const api = harness.caller(member);
    const days = (date: Date | null) => (date!.getTime() - Date.now()) / 86_400_000;
    const standard = await api.tokens.api.create({ name: 'default' });
    expect(days(standard.apiToken.expiresAt)).toBeCloseTo(90, 1);
    expect(days((await api.tokens.api.create({ name: 'a week', expiresInDays: 7 })).apiToken.expiresAt)).toBeCloseTo(7, 1);
    await expect(api.tokens.api.create({ name: 'forever', expiresInDays: null })).rejects.toEqual(failure('BAD_REQUEST', /API tokens must expire: choose 1 to 365 days/));
    await expect(api.tokens.api.create({ name: 'too long', expiresInDays: 366 })).rejects.toEqual(failure('BAD_REQUEST', /1 to 365 days/));

    // The deployment's own numbers (CIDER_API_TOKEN_DEFAULT_DAYS / _MAX_DAYS).
    const strict = harness.caller(member, { authPolicy: { apiTokenExpiry: { defaultDays: 14, maxDays: 30 } } });
    expect(days((await strict.tokens.api.create({ name: 'strict default' })).apiToken.expiresAt)).toBeCloseTo(14, 1);
    await expect(strict.tokens.api.create({ name: 'strict long', expiresInDays: 31 })).rejects.toEqual(failure('BAD_REQUEST', /1 to 30 days/));
    expect(await harness.deps.db.apiToken.count({ where: { userId: member.id } })).toBe(3);
  });

  it('made before expiry was required keep working and are listed without one', async () => {
    const member = await harness.user('member');
    const { token, apiToken } = await harness.caller(member).tokens.api.create({ name: 'legacy' });
    await harness.deps.db.apiToken.update({ where: { id: apiToken.id }, data: { expiresAt: null } });
    expect(await userForApiToken(harness.deps, token)).toMatchObject({ id: member.id });
    expect((await harness.caller(member).tokens.api.list()).find((t) => t.id === apiToken.id)).toMatchObject({ expiresAt: null, revokedAt: null });
  });

  it('called with an API token, never outlive it: same user, no later expiry', async () => {
    const admin = await harness.user('admin');
    const parent = await createApiToken(harness.deps, { userId: admin.id, label: admin.email }, { userId: admin.id, name: 'parent', expiresInDays: 10 });
    const session = (await apiTokenSession(harness.deps, parent.token))!;
    expect(session.apiToken).toEqual({ id: parent.apiToken.id, expiresAt: parent.apiToken.expiresAt });
    const asToken = harness.caller(session.user, { apiToken: session.apiToken });

    await expect(asToken.tokens.api.create({ name: 'longer', expiresInDays: 11 })).rejects.toEqual(failure('FORBIDDEN', /can't outlive it/));
    const shorter = await asToken.tokens.api.create({ name: 'shorter', expiresInDays: 3 });
    expect(shorter.apiToken.user.id).toBe(admin.id);
    // Left to the default (90 days), the child ends when its parent does.
    const defaulted = await asToken.tokens.api.create({ name: 'defaulted' });
    expect(defaulted.apiToken.expiresAt).toEqual(parent.apiToken.expiresAt);
    const names = (await harness.deps.db.apiToken.findMany({ where: { userId: admin.id }, select: { name: true } })).map((t) => t.name).sort();
    expect(names).toEqual(['defaulted', 'parent', 'shorter']);
  });

  it('no answer or audit event carries a token hash', async () => {
    const secrets = await storedSecrets(harness.deps);
    expect(leaks(responses, secrets)).toEqual([]);
    expect(leaks(await harness.deps.db.auditEvent.findMany(), secrets)).toEqual([]);
  });
});
