// Browsing images through the tRPC procedures, against the run's real docker-registry (and a
// fault proxy in front of it to see pagination and to switch the catalog off), PostgreSQL and Redis.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useTestDatabase } from '@cider/db/testing';
import { CiderMediaType, encodeManifest, MediaType, pushArtifact, RegistryClient, type ImageIndex, type PushResult } from '@cider/oci';
import { startFaultProxy, type FaultProxy } from '@cider/oci/testing';
import { uniqueRepository, useRedisPrefix } from '@cider/services/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createServiceDeps } from '../deps-factory.ts';
import { createCaller } from '../root.ts';
import type { TrpcContext } from '../trpc.ts';
import { listRepositories } from './images.ts';
import { setPin } from './pins.ts';
import { createProject } from './projects.ts';
import { createRegistry } from './registries.ts';

const database = useTestDatabase();
const redis = useRedisPrefix();

describe('images browser (real docker-registry, PostgreSQL, Redis)', () => {
  let work: string;
  let services: ReturnType<typeof createServiceDeps>;
  let client: RegistryClient;
  let proxy: FaultProxy;
  /** A registry whose catalog is switched off (a proxy answering 404 UNSUPPORTED for it). */
  let closed: FaultProxy;
  let caller: ReturnType<typeof createCaller>;
  let registryId: string;
  let closedRegistryId: string;
  const host = inject('registryHost');
  const prefix = uniqueRepository('browse');
  const repository = `${prefix}/macos`;
  const multiRepository = `${prefix}/multi`;
  let cider: PushResult;
  let indexDigest: string;
  const payloadName = 'UniversalMac_15.2_24C101_Restore.ipsw';

  function context(role: 'admin' | 'member' | 'viewer', userId: string): TrpcContext {
    return {
      deps: services.deps,
      hub: services.hub,
      user: { id: userId, email: `${role}@example.com`, name: role, role, teams: [] },
      sessionToken: undefined,
      userAgent: undefined,
      setSessionCookie: () => {},
    };
  }

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cider-images-'));
    services = createServiceDeps({ databaseUrl: database.url, redisUrl: redis.url, redisPrefix: redis.prefix, secretKey: randomBytes(32).toString('base64') });
    client = new RegistryClient();
    const payload = join(work, payloadName);
    await writeFile(payload, randomBytes(4096));
    const config = { os: 'macOS', version: '15.2', build: '24C101', architecture: 'arm64', devices: ['VirtualMac2,1', 'Mac14,3'], payload: { name: payloadName, size: 4096 } };
    cider = await pushArtifact({
      client,
      reference: `${host}/${repository}:15.2`,
      files: [{ path: payload, mediaType: CiderMediaType.ipsw }],
      artifactType: CiderMediaType.artifact,
      config: { mediaType: CiderMediaType.config, bytes: Buffer.from(JSON.stringify(config)) },
      annotations: { 'org.opencontainers.image.version': '15.2', 'org.opencontainers.image.title': 'macOS 15.2 (24C101)' },
      extraTags: ['15.10', 'latest'],
    });

    // A multi-platform index: one artifact per architecture, each pushed by tag, then the index.
    const platforms = [];
    for (const architecture of ['arm64', 'amd64']) {
      const file = join(work, `disk-${architecture}.img`);
      await writeFile(file, randomBytes(1024));
      const pushed = await pushArtifact({ client, reference: `${host}/${multiRepository}:${architecture}`, files: [{ path: file }], artifactType: 'application/vnd.example.disk.v1' });
      platforms.push({ ...pushed.descriptor, platform: { os: 'linux', architecture } });
    }
    const index: ImageIndex = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: platforms, annotations: { 'org.opencontainers.image.version': '1.0' } };
    const encoded = encodeManifest(index);
    await client.repository(host, multiRepository).pushManifest(encoded.bytes, encoded.mediaType, '1.0');
    indexDigest = encoded.digest;

    proxy = await startFaultProxy(inject('registryUrl'));
    closed = await startFaultProxy(inject('registryUrl'), (r) =>
      r.path.startsWith('/v2/_catalog') ? { kind: 'status', status: 404, body: JSON.stringify({ errors: [{ code: 'UNSUPPORTED', message: 'The operation is unsupported.' }] }) } : undefined,
    );
    const actor = { label: 'admin@example.com' };
    registryId = (await createRegistry(services.deps, actor, { name: 'run registry', host, plainHttp: true, authKind: 'none' })).id;
    closedRegistryId = (await createRegistry(services.deps, actor, { name: 'proxied', host: closed.host, plainHttp: true, authKind: 'none' })).id;

    const team = await services.deps.db.team.create({ data: { name: 'Platform' } });
    const project = await createProject(services.deps, actor, { name: 'ios-ci', teamId: team.id, nodeSelector: {} });
    await setPin(services.deps, actor, { projectId: project.id, reference: `${host}/${repository}:15.2`, mode: 'frozen' });
    const node = await services.deps.db.node.create({ data: { name: 'mac-01', secretHash: 'x'.repeat(64), state: 'online', lastSeenAt: new Date() } });
    await services.deps.db.nodeImage.create({ data: { nodeId: node.id, digest: cider.digest, reference: `${host}/${repository}:15.2`, size: 4096n, verifiedAt: new Date() } });
    const viewer = await services.deps.db.user.create({ data: { email: 'viewer@example.com', name: 'viewer', passwordHash: 'x', role: 'viewer' } });
    caller = createCaller(context('viewer', viewer.id));
  });
  afterAll(async () => {
    await client?.close();
    await proxy?.close();
    await closed?.close();
    await services?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('follows catalog pagination (n, last and Link) without losing or repeating repositories', async () => {
    const extra = [`${prefix}/a`, `${prefix}/b`, `${prefix}/c`];
    for (const name of extra) {
      const file = join(work, 'small.bin');
      await writeFile(file, name);
      await pushArtifact({ client, reference: `${host}/${name}:1`, files: [{ path: file }] });
    }
    const proxied = new RegistryClient();
    try {
      const before = proxy.requests.length;
      const paged = await listRepositories(proxied, proxy.host, { pageSize: 2 });
      const catalogRequests = proxy.requests.slice(before).filter((r) => r.path.startsWith('/v2/_catalog'));
      expect(catalogRequests.length).toBeGreaterThan(2);
      expect(catalogRequests.every((r) => r.path.includes('n=2'))).toBe(true);
      expect(catalogRequests.slice(1).every((r) => r.path.includes('last='))).toBe(true);

      const whole = await listRepositories(proxied, proxy.host, { pageSize: 1000 });
      expect(paged.repositories).toEqual(whole.repositories);
      expect(new Set(paged.repositories).size).toBe(paged.repositories.length);
      expect(paged.repositories).toEqual(expect.arrayContaining([...extra, repository, multiRepository]));
      expect(paged.truncated).toBe(false);
      expect((await listRepositories(proxied, proxy.host, { pageSize: 2, limit: 3 })).truncated).toBe(true);
    } finally {
      await proxied.close();
    }
  });

  it('lists registries with repository counts and a registry repositories with their pins', async () => {
    const registries = await caller.images.registries();
    const mine = registries.find((r) => r.id === registryId)!;
    expect(mine.repositoryCount).toBeGreaterThanOrEqual(2);
    expect(mine.catalogError).toBeNull();

    const { catalog } = await caller.images.repositories({ registryId });
    expect(catalog.available).toBe(true);
    if (!catalog.available) return;
    expect(catalog.repositories).toContainEqual({ name: repository, pins: 1 });
    expect(catalog.repositories).toContainEqual({ name: multiRepository, pins: 0 });
  });

  it('says clearly when a registry keeps its catalog to itself', async () => {
    const { catalog } = await caller.images.repositories({ registryId: closedRegistryId });
      expect(catalog).toEqual({ available: false, reason: expect.stringMatching(/does not list its repositories.*open a repository by name/) });
    const listed = (await caller.images.registries()).find((r) => r.id === closedRegistryId)!;
    expect(listed).toMatchObject({ repositoryCount: null, catalogError: expect.stringContaining('does not list its repositories') });
    // Tags and images still work by name.
    const tags = await caller.images.tags({ registryId: closedRegistryId, repository });
    expect(tags.tags.map((t) => t.name)).toContain('15.2');
  });

  it('lists tags newest first with digests, pins and holders', async () => {
    const result = await caller.images.tags({ registryId, repository });
    expect(result.tags.map((t) => t.name)).toEqual(['latest', '15.10', '15.2']);
    const tag = result.tags.find((t) => t.name === '15.2')!;
    expect(tag).toMatchObject({ digest: cider.digest, mediaType: MediaType.ociManifest, nodes: 1 });
    expect(tag.pins).toEqual([expect.objectContaining({ projectName: 'ios-ci', mode: 'frozen', digest: cider.digest, current: true })]);
    expect(result.tags.find((t) => t.name === 'latest')?.pins).toEqual([]);
  });

  it('lays out a Cider image: digest, sizes, annotations, layers, config fields, holders and pins', async () => {
    const detail = await caller.images.detail({ registryId, repository, reference: '15.2' });
    const layer = cider.manifest.layers[0]!;
    expect(detail).toMatchObject({
      kind: 'manifest',
      tag: '15.2',
      reference: `${host}/${repository}:15.2`,
      digest: cider.digest,
      mediaType: MediaType.ociManifest,
      artifactType: CiderMediaType.artifact,
      totalSize: cider.manifest.config.size + layer.size,
      annotations: { version: '15.2', title: 'macOS 15.2 (24C101)', created: expect.any(String) },
      config: { mediaType: CiderMediaType.config, digest: cider.manifest.config.digest },
      layers: [{ title: payloadName, mediaType: CiderMediaType.ipsw, size: 4096, digest: layer.digest }],
      cider: { os: 'macOS', version: '15.2', build: '24C101', architecture: 'arm64', devices: ['VirtualMac2,1', 'Mac14,3'], payload: { name: payloadName, size: 4096 } },
      platforms: [],
      configNote: null,
      referrers: null,
    });
    expect(detail.heldBy).toEqual([expect.objectContaining({ nodeName: 'mac-01', digest: cider.digest, size: 4096, nodeStatus: 'online' })]);
    expect(detail.pins).toEqual([expect.objectContaining({ projectName: 'ios-ci', usesThis: true })]);

    // The same content by digest: no tag, same facts.
    const byDigest = await caller.images.detail({ registryId, repository, reference: cider.digest });
    expect(byDigest).toMatchObject({ tag: null, digest: cider.digest, reference: `${host}/${repository}@${cider.digest}`, cider: { build: '24C101' } });
  });

  it('lays out a multi-platform index with each platform manifest', async () => {
    const detail = await caller.images.detail({ registryId, repository: multiRepository, reference: '1.0' });
    expect(detail).toMatchObject({ kind: 'index', digest: indexDigest, mediaType: MediaType.ociIndex, totalSize: null, cider: null, layers: [], annotations: { version: '1.0' } });
    expect(detail.platforms).toHaveLength(2);
    expect(detail.platforms.map((p) => `${p.os}/${p.architecture}`)).toEqual(['linux/arm64', 'linux/amd64']);
    for (const platform of detail.platforms) {
      expect(platform.artifactType).toBe('application/vnd.example.disk.v1');
      expect(platform.totalSize).toBe(2 + 1024);
    }
  });

  it('explains unknown tags, bad names and unknown registries', async () => {
    await expect(caller.images.detail({ registryId, repository, reference: '99.9' })).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringMatching(/not found/) });
    await expect(caller.images.tags({ registryId, repository: 'Not/Valid' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(caller.images.repositories({ registryId: '00000000-0000-4000-8000-000000000000' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('is for signed-in users only', async () => {
    const anonymous = createCaller({ ...context('viewer', 'x'), user: undefined });
    await expect(anonymous.images.registries()).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
  });
});
