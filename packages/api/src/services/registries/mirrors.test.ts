// Registry mirrors through the whole tRPC stack (roles, input bounds, error mapping) on real
// PostgreSQL and Redis, and the grant a node gets for a password-protected mirror, from a real
// docker-registry with htpasswd auth.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeHtpasswd } from '@cider/oci/testing';
import { generateNodeKeyPair, grantContext, mirrorGrantContext, openSealedBox, registryGrant } from '@cider/protocol';
import { startRegistry, type RunningRegistry } from '@cider/services';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failure, invalid, useRouterHarness } from '../../../testing/test-context.ts';
import { mirrorAccess, mirrorForSite } from './mirrors.ts';

const harness = useRouterHarness();
const password = 'mirror robot password 42';

describe('registry mirrors (real PostgreSQL, Redis, password-protected docker-registry as the mirror)', () => {
  let work: string;
  let mirrorRegistry: RunningRegistry;
  let registryId: string;
  let otherRegistryId: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cider-mirrors-'));
    await writeHtpasswd(join(work, 'htpasswd'), { robot: password });
    mirrorRegistry = await startRegistry({ auth: { kind: 'htpasswd', htpasswdFile: join(work, 'htpasswd') } });
    // Rows made straight in the database: adding a mirror never talks to the registry.
    registryId = (await harness.deps.db.registry.create({ data: { name: 'origin', host: 'registry.example.com' } })).id;
    otherRegistryId = (await harness.deps.db.registry.create({ data: { name: 'other', host: 'other.example.com:5000' } })).id;
  });
  afterAll(async () => {
    await mirrorRegistry?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it('lets only admins add, change and remove mirrors; anyone signed in lists them', async () => {
    const admin = await harness.caller(await harness.user('admin'));
    const added = await admin.registries.mirrors.add({ registryId, site: 'berlin', host: 'http://10.1.0.5:5000/', plainHttp: false });
    expect(added).toMatchObject({ registryId, site: 'berlin', host: '10.1.0.5:5000', plainHttp: true, username: null, hasCredentials: false });
    for (const role of ['member', 'viewer'] as const) {
      const api = harness.caller(await harness.user(role));
      await expect(api.registries.mirrors.add({ registryId, site: 'paris', host: 'mirror.paris.example' })).rejects.toEqual(failure('FORBIDDEN', /Only admins/));
      await expect(api.registries.mirrors.update({ id: added.id, plainHttp: false })).rejects.toEqual(failure('FORBIDDEN'));
      await expect(api.registries.mirrors.remove({ id: added.id })).rejects.toEqual(failure('FORBIDDEN'));
      expect((await api.registries.mirrors.list({ registryId })).map((m) => m.site)).toEqual(['berlin']);
    }
    await expect(harness.caller(undefined).registries.mirrors.list({ registryId })).rejects.toEqual(failure('UNAUTHORIZED'));
    expect(await harness.deps.db.mirror.count()).toBe(1);

    const changed = await admin.registries.mirrors.update({ id: added.id, host: 'mirror.berlin.example', plainHttp: false });
    expect(changed).toMatchObject({ host: 'mirror.berlin.example', plainHttp: false });
    expect(await admin.registries.mirrors.remove({ id: added.id })).toEqual({ id: added.id });
    expect(await admin.registries.mirrors.list({ registryId })).toEqual([]);
    const actions = await harness.deps.db.auditEvent.findMany({ where: { targetType: 'mirror', targetId: added.id }, orderBy: { at: 'asc' } });
    expect(actions.map((a) => a.action)).toEqual(['mirror.create', 'mirror.update', 'mirror.delete']);
    await expect(admin.registries.mirrors.remove({ id: added.id })).rejects.toEqual(failure('NOT_FOUND'));
  });

  it('bounds its input', async () => {
    const admin = harness.caller(await harness.user('admin'));
    const add = (input: Record<string, unknown>) => admin.registries.mirrors.add({ registryId, site: 'lyon', host: 'mirror.lyon.example', ...input } as never);
    await expect(add({ host: 'x'.repeat(301) })).rejects.toEqual(invalid(/./));
    await expect(add({ host: '' })).rejects.toEqual(invalid(/Enter the mirror host/));
    await expect(add({ host: 'mirror.lyon.example/some/path' })).rejects.toEqual(failure('BAD_REQUEST', /not a registry host/));
    await expect(add({ host: 'not a host!' })).rejects.toEqual(failure('BAD_REQUEST'));
    await expect(add({ host: 'registry.example.com' })).rejects.toEqual(failure('BAD_REQUEST', /another host than its registry/));
    await expect(add({ site: '' })).rejects.toEqual(invalid(/Give the site/));
    await expect(add({ site: 's'.repeat(256) })).rejects.toEqual(invalid(/./));
    await expect(add({ username: 'robot' })).rejects.toEqual(invalid(/both a username and a password/));
    await expect(add({ password: 'x' })).rejects.toEqual(invalid(/both a username and a password/));
    await expect(add({ username: 'robot', password: 'p'.repeat(4097) })).rejects.toEqual(invalid(/./));
    await expect(add({ registryId: 'nope' })).rejects.toEqual(invalid(/No such registry/));
    await expect(add({ registryId: '00000000-0000-4000-8000-000000000000' })).rejects.toEqual(failure('NOT_FOUND'));
    expect(await harness.deps.db.mirror.count()).toBe(0);
  });

  it('keeps one mirror per registry and site', async () => {
    const admin = harness.caller(await harness.user('admin'));
    await admin.registries.mirrors.add({ registryId, site: 'tokyo', host: 'a.tokyo.example' });
    await expect(admin.registries.mirrors.add({ registryId, site: 'tokyo', host: 'b.tokyo.example' })).rejects.toEqual(failure('CONFLICT', /already has a mirror for site "tokyo"/));
    await admin.registries.mirrors.add({ registryId: otherRegistryId, site: 'tokyo', host: 'b.tokyo.example' });
    await admin.registries.mirrors.add({ registryId, site: '*', host: 'everywhere.example' });
    await expect(admin.registries.mirrors.add({ registryId, site: '*', host: 'again.example' })).rejects.toEqual(failure('CONFLICT', /for every site/));

    // A node's own site first, else the every-site mirror; none for a registry without one.
    expect((await mirrorForSite(harness.deps, registryId, 'tokyo'))?.host).toBe('a.tokyo.example');
    expect((await mirrorForSite(harness.deps, registryId, 'oslo'))?.host).toBe('everywhere.example');
    expect((await mirrorForSite(harness.deps, registryId, undefined))?.host).toBe('everywhere.example');
    expect(await mirrorForSite(harness.deps, otherRegistryId, 'oslo')).toBeNull();

    // Removing the registry removes its mirrors.
    await harness.deps.db.registry.delete({ where: { id: otherRegistryId } });
    expect(await harness.deps.db.mirror.count({ where: { registryId: otherRegistryId } })).toBe(0);
    await harness.deps.db.mirror.deleteMany({});
  });

  it('seals the password, never returns it, and grants it to a node under the mirror context only', async () => {
    const admin = harness.caller(await harness.user('admin'));
    const viewer = harness.caller(await harness.user('viewer'));
    const added = await admin.registries.mirrors.add({ registryId, site: 'madrid', host: mirrorRegistry.host, plainHttp: true, username: 'robot', password });
    expect(added).toMatchObject({ username: 'robot', hasCredentials: true });
    const responses = [added, await admin.registries.mirrors.list({ registryId }), await viewer.registries.mirrors.list({})];
    expect(JSON.stringify(responses)).not.toContain(password);
    const row = await harness.deps.db.mirror.findUniqueOrThrow({ where: { id: added.id } });
    expect(Buffer.from(row.secretSealed!).includes(Buffer.from(password))).toBe(false);
    const audit = await harness.deps.db.auditEvent.findMany({ where: { targetType: 'mirror' } });
    expect(JSON.stringify(audit, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))).not.toContain(password);

    // docker-registry with htpasswd speaks Basic only: the node gets the credential, sealed to its key for this job.
    const keys = generateNodeKeyPair();
    const jobId = '00000000-0000-4000-8000-00000000a001';
    const access = await mirrorAccess(harness.deps, row, { syncJobId: jobId, nodePublicKey: keys.publicKey, repository: 'team/macos' });
    expect(access).toMatchObject({ host: mirrorRegistry.host, plainHttp: true });
    expect(access.grant).not.toContain(password);
    expect(registryGrant.parse(JSON.parse(openSealedBox(keys, access.grant!, mirrorGrantContext(jobId))))).toEqual({ kind: 'basic', username: 'robot', password });
    expect(() => openSealedBox(keys, access.grant!, grantContext(jobId))).toThrow();

    // Credentials dropped: the row forgets them and the node gets none.
    const cleared = await admin.registries.mirrors.update({ id: added.id, credentials: null });
    expect(cleared).toMatchObject({ username: null, hasCredentials: false });
    const bare = await harness.deps.db.mirror.findUniqueOrThrow({ where: { id: added.id } });
    expect(bare.secretSealed).toBeNull();
    expect(await mirrorAccess(harness.deps, bare, { syncJobId: jobId, nodePublicKey: keys.publicKey, repository: 'team/macos' })).toEqual({ host: mirrorRegistry.host, plainHttp: true });
  });
});
