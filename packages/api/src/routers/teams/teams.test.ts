// The teams router against real PostgreSQL and Redis: anyone lists, admins change; a team that
// owns projects is not deleted; membership roles decide who may change a project's pins.
import { describe, expect, it } from 'vitest';
import { createProject } from '../../services/projects/projects.ts';
import { failure, invalid, leaks, storedSecrets, useRouterHarness } from '../../../testing/test-context.ts';

const harness = useRouterHarness();

describe('teams router (real PostgreSQL, Redis)', () => {
  it('lists teams for anyone signed in, with project and member counts', async () => {
    const admin = await harness.user('admin');
    const viewer = await harness.user('viewer');
    await expect(harness.caller(undefined).teams.list()).rejects.toEqual(failure('UNAUTHORIZED'));
    const team = await harness.caller(admin).teams.create({ name: 'Counting' });
    await harness.caller(admin).teams.addMember({ teamId: team.id, userId: viewer.id, role: 'viewer' });
    await createProject(harness.deps, { label: 'test' }, { name: 'counting-ci', teamId: team.id, nodeSelector: {} });
    const list = await harness.caller(viewer).teams.list();
    expect(list.find((t) => t.id === team.id)).toMatchObject({ name: 'Counting', projectCount: 1, memberCount: 1 });
  });

  it('lets only admins create, rename and delete teams or change memberships', async () => {
    const admin = await harness.user('admin');
    const team = await harness.caller(admin).teams.create({ name: 'Guarded' });
    for (const role of ['member', 'viewer'] as const) {
      const user = await harness.user(role, { teams: { [team.id]: 'admin' } });
      const api = harness.caller(user);
      await expect(api.teams.create({ name: `By ${role}` })).rejects.toEqual(failure('FORBIDDEN', /Only admins/));
      await expect(api.teams.rename({ teamId: team.id, name: 'Renamed' })).rejects.toEqual(failure('FORBIDDEN'));
      await expect(api.teams.delete({ teamId: team.id })).rejects.toEqual(failure('FORBIDDEN'));
      await expect(api.teams.addMember({ teamId: team.id, userId: user.id, role: 'admin' })).rejects.toEqual(failure('FORBIDDEN'));
      await expect(api.teams.setMemberRole({ teamId: team.id, userId: user.id, role: 'viewer' })).rejects.toEqual(failure('FORBIDDEN'));
      await expect(api.teams.removeMember({ teamId: team.id, userId: user.id })).rejects.toEqual(failure('FORBIDDEN'));
    }
    expect(await harness.deps.db.team.findUniqueOrThrow({ where: { id: team.id } })).toMatchObject({ name: 'Guarded' });
  });

  it('creates and renames teams with unique, valid names, and records both', async () => {
    const admin = await harness.user('admin');
    const api = harness.caller(admin);
    const mobile = await api.teams.create({ name: '  Mobile ' });
    expect(mobile.name).toBe('Mobile');
    await expect(api.teams.create({ name: 'Mobile' })).rejects.toEqual(failure('CONFLICT', /already exists/));
    await expect(api.teams.create({ name: '' })).rejects.toEqual(invalid(/Give the team a name/));
    await expect(api.teams.create({ name: '-dash first' })).rejects.toEqual(failure('BAD_REQUEST', /Team names are/));

    const web = await api.teams.create({ name: 'Web' });
    await expect(api.teams.rename({ teamId: web.id, name: 'Mobile' })).rejects.toEqual(failure('CONFLICT', /"Mobile" already exists/));
    expect(await api.teams.rename({ teamId: web.id, name: 'Web Platform' })).toEqual({ id: web.id, name: 'Web Platform' });

    const audit = await harness.deps.db.auditEvent.findMany({ where: { targetType: 'team', targetId: web.id }, orderBy: { id: 'asc' } });
    expect(audit.map((a) => a.action)).toEqual(['team.create', 'team.rename']);
    expect(audit[1]).toMatchObject({ actor: admin.email, before: { name: 'Web' }, after: { name: 'Web Platform' } });
  });

  it('refuses to delete a team that owns projects, naming them; deletes an empty one', async () => {
    const admin = await harness.user('admin');
    const api = harness.caller(admin);
    const team = await api.teams.create({ name: 'Owner' });
    await createProject(harness.deps, { label: 'test' }, { name: 'owner-ci', teamId: team.id, nodeSelector: {} });
    await expect(api.teams.delete({ teamId: team.id })).rejects.toEqual(failure('CONFLICT', /Team Owner still owns project "owner-ci"; a team that owns projects can't be deleted/));
    expect(await harness.deps.db.team.count({ where: { id: team.id } })).toBe(1);

    const empty = await api.teams.create({ name: 'Empty' });
    const member = await harness.user('member', { teams: { [empty.id]: 'member' } });
    await expect(api.teams.delete({ teamId: empty.id })).resolves.toEqual({ ok: true });
    expect(await harness.deps.db.membership.count({ where: { userId: member.id } })).toBe(0);
    const audit = await harness.deps.db.auditEvent.findFirstOrThrow({ where: { action: 'team.delete', targetId: empty.id } });
    expect(audit.before).toMatchObject({ name: 'Empty', members: [{ userId: member.id, role: 'member' }] });
    await expect(api.teams.delete({ teamId: empty.id })).rejects.toEqual(failure('NOT_FOUND'));
  });

  it('adds members, changes their team role and removes them, each audited', async () => {
    const admin = await harness.user('admin');
    const api = harness.caller(admin);
    const team = await api.teams.create({ name: 'Members' });
    const user = await harness.user('member');
    await api.teams.addMember({ teamId: team.id, userId: user.id, role: 'member' });
    await expect(api.teams.addMember({ teamId: team.id, userId: user.id, role: 'admin' })).rejects.toEqual(failure('CONFLICT', /already in team Members/));
    await api.teams.setMemberRole({ teamId: team.id, userId: user.id, role: 'viewer' });
    expect((await harness.reload(user)).teams).toEqual([{ teamId: team.id, role: 'viewer' }]);
    await api.teams.removeMember({ teamId: team.id, userId: user.id });
    expect((await harness.reload(user)).teams).toEqual([]);
    await expect(api.teams.removeMember({ teamId: team.id, userId: user.id })).rejects.toEqual(failure('NOT_FOUND', /is not in team Members/));

    const audit = await harness.deps.db.auditEvent.findMany({ where: { targetType: 'team', targetId: team.id }, orderBy: { id: 'asc' } });
    expect(audit.map((a) => a.action)).toEqual(['team.create', 'team.member.add', 'team.member.role', 'team.member.remove']);
    expect(audit[2]).toMatchObject({ before: { user: user.email, role: 'member' }, after: { user: user.email, role: 'viewer' } });
  });

  it('lets members change pins only in their own teams’ projects', async () => {
    const admin = await harness.user('admin');
    const api = harness.caller(admin);
    const mine = await api.teams.create({ name: 'Pinning' });
    const other = await api.teams.create({ name: 'Elsewhere' });
    const own = await createProject(harness.deps, { label: 'test' }, { name: 'pinning-ci', teamId: mine.id, nodeSelector: {} });
    const foreign = await createProject(harness.deps, { label: 'test' }, { name: 'elsewhere-ci', teamId: other.id, nodeSelector: {} });
    const pin = { reference: '127.0.0.1:1/demo/macos:15.2', mode: 'follow' as const };
    // Getting as far as the registry lookup means the role check let the caller through.
    const passedRoleCheck = failure('NOT_FOUND', /Registry 127.0.0.1:1 is not connected/);
    const refused = failure('FORBIDDEN', /Only admins and members of this project's team/);

    const member = await harness.user('member', { teams: { [mine.id]: 'member' } });
    await expect(harness.caller(member).pins.set({ ...pin, projectId: own.id })).rejects.toEqual(passedRoleCheck);
    await expect(harness.caller(member).pins.set({ ...pin, projectId: foreign.id })).rejects.toEqual(refused);

    await api.teams.setMemberRole({ teamId: mine.id, userId: member.id, role: 'viewer' });
    await expect(harness.caller(await harness.reload(member)).pins.set({ ...pin, projectId: own.id })).rejects.toEqual(refused);

    // A global viewer stays read-only even as a team member.
    const viewer = await harness.user('viewer', { teams: { [mine.id]: 'member' } });
    await expect(harness.caller(viewer).pins.set({ ...pin, projectId: own.id })).rejects.toEqual(refused);
    await expect(api.pins.set({ ...pin, projectId: foreign.id })).rejects.toEqual(passedRoleCheck);
  });

  it('no answer carries a password hash or token hash', async () => {
    const admin = await harness.user('admin');
    const responses = [await harness.caller(admin).teams.list(), await harness.caller(admin).teams.create({ name: 'Last' })];
    expect(leaks(responses, await storedSecrets(harness.deps))).toEqual([]);
  });
});
