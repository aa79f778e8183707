// Editing and removing registries against the run's real docker-registry, PostgreSQL and Redis:
// a blank password keeps the sealed one and no response carries it; a registry that pins use is
// neither removed nor moved, and the refusal names the projects; every change is audited.
import { describe, expect, inject, it } from 'vitest';
import { open } from '../../secrets.ts';
import { createProject } from '../../services/projects/projects.ts';
import { failure, invalid, useRouterHarness } from '../../../testing/test-context.ts';

const harness = useRouterHarness();
const host = inject('registryHost');
const port = host.split(':')[1]!;

describe('registry edit and delete (real docker-registry, PostgreSQL, Redis)', () => {
  it('renames a registry and changes its credentials; a blank password keeps the stored one, which never comes back', async () => {
    const admin = await harness.user('admin');
    const api = harness.caller(admin);
    const created = await api.registries.create({ name: 'Build cache', host, plainHttp: true, authKind: 'basic', username: 'robot', password: 'first-secret' });
    const sealed = (await harness.deps.db.registry.findUniqueOrThrow({ where: { id: created.id } })).secretSealed;

    const renamed = await api.registries.update({ id: created.id, name: 'Build cache (lab)', host, plainHttp: true, authKind: 'basic', username: 'robot', password: '' });
    expect(renamed).toMatchObject({ name: 'Build cache (lab)', username: 'robot', hasPassword: true });
    expect(JSON.stringify(renamed)).not.toMatch(/first-secret|secretSealed/);
    const kept = await harness.deps.db.registry.findUniqueOrThrow({ where: { id: created.id } });
    expect(Buffer.from(kept.secretSealed!).equals(Buffer.from(sealed!))).toBe(true);

    await expect(api.registries.update({ id: created.id, name: 'Build cache (lab)', host, plainHttp: true, authKind: 'basic', username: 'other-robot' })).rejects.toEqual(
      failure('BAD_REQUEST', /Enter the password for the new username/),
    );
    await api.registries.update({ id: created.id, name: 'Build cache (lab)', host, plainHttp: true, authKind: 'basic', username: 'robot', password: 'second-secret' });
    const changed = await harness.deps.db.registry.findUniqueOrThrow({ where: { id: created.id } });
    expect(open(harness.deps.secretKey, changed.secretSealed!, `registry:${created.id}`)).toBe('second-secret');

    const none = await api.registries.update({ id: created.id, name: 'Build cache (lab)', host, plainHttp: true, authKind: 'none' });
    expect(none).toMatchObject({ authKind: 'none', username: null, hasPassword: false });

    const audit = await harness.deps.db.auditEvent.findMany({ where: { targetType: 'registry', targetId: created.id, action: 'registry.update' }, orderBy: { id: 'asc' } });
    expect(audit).toHaveLength(3);
    expect(audit[0]).toMatchObject({ actor: admin.email, before: { name: 'Build cache', username: 'robot' }, after: { name: 'Build cache (lab)', username: 'robot' } });
    expect(audit[1]!.after).toMatchObject({ credentialChanged: true });
    expect(JSON.stringify(audit.map((a) => [a.before, a.after]))).not.toMatch(/first-secret|second-secret/);
    await api.registries.delete({ id: created.id });
  });

  it('refuses a name another registry holds in any case, and an over-long name, with messages a form can show', async () => {
    const admin = await harness.user('admin');
    const api = harness.caller(admin);
    await api.registries.create({ name: 'iOS Images', host, plainHttp: true, authKind: 'none' });
    await expect(api.registries.create({ name: 'ios images', host: `localhost:${port}`, plainHttp: true, authKind: 'none' })).rejects.toEqual(
      failure('CONFLICT', /A registry named "iOS Images" already exists; names ignore case, so "ios images" is taken too/),
    );
    const other = await api.registries.create({ name: 'Other', host: `localhost:${port}`, plainHttp: true, authKind: 'none' });
    await expect(api.registries.update({ id: other.id, name: 'IOS IMAGES', host: `localhost:${port}`, plainHttp: true, authKind: 'none' })).rejects.toEqual(
      failure('CONFLICT', /"iOS Images" already exists/),
    );
    await expect(api.registries.update({ id: other.id, name: 'x'.repeat(101), host: `localhost:${port}`, plainHttp: true, authKind: 'none' })).rejects.toEqual(
      invalid(/Registry names are at most 100 characters/),
    );
    // Renaming a registry to its own name in another case is allowed.
    expect((await api.registries.update({ id: other.id, name: 'OTHER', host: `localhost:${port}`, plainHttp: true, authKind: 'none' })).name).toBe('OTHER');
    const viewer = await harness.user('viewer');
    await expect(harness.caller(viewer).registries.update({ id: other.id, name: 'Mine', host: `localhost:${port}`, plainHttp: true, authKind: 'none' })).rejects.toEqual(failure('FORBIDDEN'));
    await expect(harness.caller(viewer).registries.delete({ id: other.id })).rejects.toEqual(failure('FORBIDDEN'));
  });

  it('refuses to delete or move a registry while pins use it, naming their projects; deletes it once they are gone, audited', async () => {
    const admin = await harness.user('admin');
    const api = harness.caller(admin);
    const registry = await harness.deps.db.registry.create({ data: { name: 'Pinned registry', host: 'pinned.example:5000', plainHttp: true } });
    await harness.deps.db.mirror.create({ data: { registryId: registry.id, site: 'lab', host: 'mirror.lab.example:5000', plainHttp: true } });
    const team = await api.teams.create({ name: 'Pinners' });
    const pins = [];
    for (const name of ['zeta-ci', 'Alpha CI']) {
      const project = await createProject(harness.deps, { label: 'test' }, { name, teamId: team.id, nodeSelector: {} });
      pins.push(
        await harness.deps.db.pin.create({
          data: { projectId: project.id, registryId: registry.id, reference: 'pinned.example:5000/demo/macos:15.2', repository: 'demo/macos', tag: '15.2', digest: `sha256:${'0'.repeat(64)}`, resolvedAt: new Date() },
        }),
      );
    }

    await expect(api.registries.delete({ id: registry.id })).rejects.toEqual(
      failure('CONFLICT', /Registry "Pinned registry" is used by pins in 2 projects "Alpha CI", "zeta-ci"\. Remove those pins first/),
    );
    await expect(api.registries.update({ id: registry.id, name: 'Pinned registry', host: 'moved.example:5000', plainHttp: true, authKind: 'none' })).rejects.toEqual(
      failure('CONFLICT', /Pins in 2 projects "Alpha CI", "zeta-ci" name pinned\.example:5000 in their references/),
    );
    expect(await harness.deps.db.registry.count({ where: { id: registry.id } })).toBe(1);

    await harness.deps.db.pin.delete({ where: { id: pins[0]!.id } });
    await expect(api.registries.delete({ id: registry.id })).rejects.toEqual(failure('CONFLICT', /used by pins in project "Alpha CI"\./));
    await harness.deps.db.pin.delete({ where: { id: pins[1]!.id } });

    expect(await api.registries.delete({ id: registry.id })).toEqual({ name: 'Pinned registry' });
    expect(await harness.deps.db.registry.count({ where: { id: registry.id } })).toBe(0);
    expect(await harness.deps.db.mirror.count({ where: { registryId: registry.id } })).toBe(0);
    const audit = await harness.deps.db.auditEvent.findFirstOrThrow({ where: { targetId: registry.id, action: 'registry.delete' } });
    expect(audit).toMatchObject({ actor: admin.email, before: { name: 'Pinned registry', host: 'pinned.example:5000', mirrors: [{ site: 'lab', host: 'mirror.lab.example:5000' }] }, after: null });
    await expect(api.registries.delete({ id: registry.id })).rejects.toEqual(failure('NOT_FOUND', /No such registry/));
  });
});
