// Picking an image to pin instead of typing it, against the run's real docker-registry,
// PostgreSQL and Redis: repositories and tags found by search in short lists, tags with their
// version and build, and the pin form's message saying what the nodes will do.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CiderMediaType, pushArtifact, RegistryClient, type PushResult } from '@cider/oci';
import { uniqueRepository } from '@cider/services/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { failure, useRouterHarness } from '../../../testing/test-context.ts';
import { pinMessage } from '../projects/pins.ts';
import { createRegistry } from '../registries/registries.ts';
import { pickLimit } from './pick.ts';

const harness = useRouterHarness();

describe('picking an image to pin (real docker-registry, PostgreSQL, Redis)', () => {
  const host = inject('registryHost');
  const prefix = uniqueRepository('pick');
  const repository = `${prefix}/macos`;
  let work: string;
  let client: RegistryClient;
  let pushed: PushResult;
  let registryId: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cider-pick-'));
    client = new RegistryClient();
    const payload = join(work, 'restore.ipsw');
    await writeFile(payload, randomBytes(2048));
    const config = { os: 'macOS', version: '15.2', build: '24C101', architecture: 'arm64', created: '2024-12-11T18:00:00Z' };
    pushed = await pushArtifact({
      client,
      reference: `${host}/${repository}:15.2`,
      files: [{ path: payload, mediaType: CiderMediaType.ipsw }],
      artifactType: CiderMediaType.artifact,
      config: { mediaType: CiderMediaType.config, bytes: Buffer.from(JSON.stringify(config)) },
      extraTags: ['15.10-beta', 'latest'],
    });
    const other = join(work, 'other.img');
    await writeFile(other, randomBytes(512));
    await pushArtifact({ client, reference: `${host}/${prefix}/tools:1.0`, files: [{ path: other }], artifactType: 'application/vnd.example.disk.v1' });
    registryId = (await createRegistry(harness.deps, { label: 'test' }, { name: `pick ${prefix}`, host, plainHttp: true, authKind: 'none' })).id;
  });
  afterAll(async () => {
    await client?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('lists repositories matching a search, at most a page of them', async () => {
    const api = harness.caller(await harness.user('viewer'));
    const found = await api.images.pickRepositories({ registryId, search: `${prefix}/MAC` });
    expect(found).toMatchObject({ available: true, repositories: [repository], matching: 1 });
    const all = await api.images.pickRepositories({ registryId });
    expect(all.repositories.length).toBeLessThanOrEqual(pickLimit);
    expect(all.matching).toBeGreaterThanOrEqual(2);
  });

  it('lists tags newest-looking first with version, build and date, and filters them', async () => {
    const api = harness.caller(await harness.user('viewer'));
    const tags = await api.images.pickTags({ registryId, repository });
    expect(tags.reference).toBe(`${host}/${repository}`);
    expect(tags.tags.map((t) => t.name)).toEqual(['latest', '15.10-beta', '15.2']);
    expect(tags.tags.find((t) => t.name === '15.2')).toEqual({ name: '15.2', digest: pushed.digest, version: '15.2', build: '24C101', created: '2024-12-11T18:00:00Z', nodes: 0 });
    const beta = await api.images.pickTags({ registryId, repository, search: 'BETA' });
    expect(beta).toMatchObject({ matching: 1, tags: [{ name: '15.10-beta' }] });
    await expect(api.images.pickTags({ registryId, repository: 'Not/Valid' })).rejects.toEqual(failure('BAD_REQUEST', /not a repository name/));
  });

  it('says a re-pinned digest is already on every node, and points a missing tag to the tag list', async () => {
    const db = harness.deps.db;
    const admin = await harness.user('admin');
    const api = harness.caller(admin);
    const team = await db.team.create({ data: { name: `Pick ${prefix}` } });
    const pool = `pick-${randomBytes(3).toString('hex')}`;
    const project = await api.projects.create({ name: pool, teamId: team.id, nodeSelector: `pool=${pool}` });
    const reference = `${host}/${repository}:15.2`;

    expect((await api.pins.set({ projectId: project.id, reference, mode: 'follow' })).message).toMatch(/no node matches this project's selector yet/);
    const macs = await Promise.all(
      ['a', 'b'].map((n) => db.node.create({ data: { name: `${pool}-${n}`, labels: { pool }, secretHash: 'x'.repeat(64), state: 'online', lastSeenAt: new Date() } })),
    );
    expect((await api.pins.set({ projectId: project.id, reference, mode: 'follow' })).message).toBe(`Pinned ${reference} at ${pushed.digest.slice(0, 19)}; all 2 nodes are fetching it.`);
    await db.nodeImage.create({ data: { nodeId: macs[0]!.id, digest: pushed.digest, size: 2048n, verifiedAt: new Date() } });
    expect((await api.pins.set({ projectId: project.id, reference, mode: 'frozen' })).message).toMatch(/already on 1 of 2 nodes, the other 1 is fetching it\.$/);
    await db.nodeImage.create({ data: { nodeId: macs[1]!.id, digest: pushed.digest, size: 2048n, verifiedAt: new Date() } });
    expect((await api.pins.set({ projectId: project.id, reference, mode: 'frozen' })).message).toMatch(/already on all 2 nodes, nothing to fetch\.$/);

    const missing = api.pins.set({ projectId: project.id, reference: `${host}/${repository}:99.9`, mode: 'follow' });
    await expect(missing).rejects.toEqual(failure('NOT_FOUND', new RegExp(`Tag "99.9" not found in ${repository}.*Pick one from its tag list: Images → pick ${prefix} → ${repository}`)));
    await expect(missing).rejects.not.toEqual(failure('NOT_FOUND', /cider tags/));
  });

  it('words the message for one node and for none', () => {
    const digest = `sha256:${'b'.repeat(64)}`;
    expect(pinMessage('r/x:1', digest, 1, 1)).toBe(`Pinned r/x:1 at sha256:${'b'.repeat(12)}; already on the only node, nothing to fetch.`);
    expect(pinMessage('r/x:1', digest, 1, 0)).toBe(`Pinned r/x:1 at sha256:${'b'.repeat(12)}; its node is fetching it.`);
  });
});
