// Names unique regardless of case, through the routers a form calls (real PostgreSQL, Redis):
// the refusal names the existing spelling, and an over-long name is refused, never cut.
import { describe, expect, it } from 'vitest';
import { failure, invalid, useRouterHarness } from '../../testing/test-context.ts';

const harness = useRouterHarness();

describe('names unique regardless of case (real PostgreSQL, Redis)', () => {
  it('refuses a team or project name that differs from another only in case, naming the one that exists', async () => {
    const api = harness.caller(await harness.user('admin'));
    const team = await api.teams.create({ name: 'iOS CI' });
    await expect(api.teams.create({ name: 'ios ci' })).rejects.toEqual(failure('CONFLICT', /^A team named "iOS CI" already exists; names ignore case, so "ios ci" is taken too\.$/));
    const other = await api.teams.create({ name: 'Android CI' });
    await expect(api.teams.rename({ teamId: other.id, name: 'IOS CI' })).rejects.toEqual(failure('CONFLICT', /A team named "iOS CI" already exists/));
    // A team may change the case of its own name.
    expect(await api.teams.rename({ teamId: team.id, name: 'IOS CI' })).toEqual({ id: team.id, name: 'IOS CI' });

    await api.projects.create({ name: 'Release Builds', teamId: team.id });
    await expect(api.projects.create({ name: 'release builds', teamId: team.id })).rejects.toEqual(
      failure('CONFLICT', /^A project named "Release Builds" already exists; names ignore case, so "release builds" is taken too\.$/),
    );
    await expect(api.projects.create({ name: 'Release Builds', teamId: team.id })).rejects.toEqual(failure('CONFLICT', /^A project named "Release Builds" already exists\.$/));
  });

  it('refuses over-long names with the limit, rather than cutting them', async () => {
    const api = harness.caller(await harness.user('admin'));
    const team = await api.teams.create({ name: 'Limits' });
    await expect(api.projects.create({ name: 'p'.repeat(300), teamId: team.id })).rejects.toEqual(invalid(/Project names are at most 63 characters/));
    await expect(api.teams.create({ name: 't'.repeat(64) })).rejects.toEqual(invalid(/Team names are at most 63 characters/));
    expect(await harness.deps.db.project.count({ where: { name: { startsWith: 'ppp' } } })).toBe(0);
    expect((await api.projects.create({ name: 'p'.repeat(63), teamId: team.id })).id).toBeTruthy();
  });
});
