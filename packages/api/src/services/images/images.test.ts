// Browsing images through the tRPC procedures, against the run's real docker-registry (and a
// fault proxy in front of it to see pagination and to switch the catalog off), PostgreSQL and Redis.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useTestDatabase } from '@cider/db/testing';
import {
  Annotation,
  CiderMediaType,
  emptyConfig,
  encodeManifest,
  MediaType,
  pushArtifact,
  pushReferrer,
  RegistryClient,
  sha256,
  type Descriptor,
  type ImageIndex,
  type ImageManifest,
  type PushResult,
} from '@cider/oci';
import { startFaultProxy, type FaultProxy } from '@cider/oci/testing';
import { uniqueRepository, useRedisPrefix } from '@cider/services/testing';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { createServiceDeps } from '../../deps-factory.ts';
import { createCaller } from '../../root.ts';
import type { TrpcContext } from '../../trpc.ts';
import { parseCiderConfig } from './cider-config.ts';
import { setPin } from '../projects/pins.ts';
import { createProject } from '../projects/projects.ts';
import { createRegistry } from '../registries/registries.ts';

const database = useTestDatabase();
const redis = useRedisPrefix();

describe('images browser (real docker-registry, PostgreSQL, Redis)', () => {
  let work: string;
  let services: ReturnType<typeof createServiceDeps>;
  let client: RegistryClient;
  let proxy: FaultProxy;
  /** A registry whose catalog is switched off (a proxy answering 404 UNSUPPORTED for it). */
  let closed: FaultProxy;
  /** A registry that refuses every referrers lookup (API and referrers tag). */
  let noReferrers: FaultProxy;
  let caller: ReturnType<typeof createCaller>;
  let registryId: string;
  let closedRegistryId: string;
  let noReferrersRegistryId: string;
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
    const config = {
      os: 'macOS',
      version: '15.2',
      build: '24C101',
      architecture: 'arm64',
      devices: ['VirtualMac2,1', 'Mac14,3'],
      payload: { name: payloadName, size: 4096 },
      created: '2024-12-11T18:00:00Z',
      files: [{ name: payloadName, kind: 'ipsw', mediaType: CiderMediaType.ipsw, size: 4096, digest: `sha256:${'1'.repeat(64)}`, pieceSize: 67108864, parts: [{ digest: `sha256:${'1'.repeat(64)}`, size: 4096, pieces: [`sha256:${'1'.repeat(64)}`] }] }],
    };
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
    noReferrers = await startFaultProxy(inject('registryUrl'), (r) =>
      r.path.includes('/referrers/') || /\/manifests\/sha256-/.test(r.path)
        ? { kind: 'status', status: 403, body: JSON.stringify({ errors: [{ code: 'DENIED', message: 'requested access to the resource is denied' }] }) }
        : undefined,
    );
    const actor = { label: 'admin@example.com' };
    noReferrersRegistryId = (await createRegistry(services.deps, actor, { name: 'no referrers', host: noReferrers.host, plainHttp: true, authKind: 'none' })).id;
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
    await noReferrers?.close();
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
      const paged = await proxied.listCatalog(proxy.host, { pageSize: 2 });
      const catalogRequests = proxy.requests.slice(before).filter((r) => r.path.startsWith('/v2/_catalog'));
      expect(catalogRequests.length).toBeGreaterThan(2);
      expect(catalogRequests.every((r) => r.path.includes('n=2'))).toBe(true);
      expect(catalogRequests.slice(1).every((r) => r.path.includes('last='))).toBe(true);

      const whole = await proxied.listCatalog(proxy.host, { pageSize: 1000 });
      expect(paged.repositories).toEqual(whole.repositories);
      expect(new Set(paged.repositories).size).toBe(paged.repositories.length);
      expect(paged.repositories).toEqual(expect.arrayContaining([...extra, repository, multiRepository]));
      expect(paged.truncated).toBe(false);
      expect((await proxied.listCatalog(proxy.host, { pageSize: 2, limit: 3 })).truncated).toBe(true);
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
      cider: {
        os: 'macOS',
        version: '15.2',
        build: '24C101',
        architecture: 'arm64',
        devices: ['VirtualMac2,1', 'Mac14,3'],
        payload: { name: payloadName, size: 4096 },
        created: '2024-12-11T18:00:00Z',
        files: [{ name: payloadName, kind: 'ipsw', mediaType: CiderMediaType.ipsw, size: 4096, digest: `sha256:${'1'.repeat(64)}`, parts: 1 }],
        moreFiles: 0,
      },
      platforms: [],
      configNote: null,
      referrers: [],
      referrersNote: null,
    });
    expect((await caller.images.holders({ digests: [detail.digest] })).rows).toEqual([expect.objectContaining({ nodeName: 'mac-01', digest: cider.digest, size: 4096, nodeStatus: 'online' })]);
    expect(detail.pins).toEqual([expect.objectContaining({ projectName: 'ios-ci', usesThis: true })]);

    // The same content by digest: no tag, same facts.
    const byDigest = await caller.images.detail({ registryId, repository, reference: cider.digest });
    expect(byDigest).toMatchObject({ tag: null, digest: cider.digest, reference: `${host}/${repository}@${cider.digest}`, cider: { build: '24C101' } });
  });

  /** Attaches a small artifact (release notes, a signature...) to `subject` as the cider CLI would. */
  async function attach(repository: string, subject: Descriptor, artifactType: string, text: string, annotations: Record<string, string>) {
    const repo = client.repository(host, repository);
    const layer = Buffer.from(text);
    for (const blob of [emptyConfig.bytes, layer]) await repo.pushBlob({ digest: sha256(blob), size: blob.length, open: () => blob });
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      artifactType,
      config: emptyConfig.descriptor,
      layers: [{ mediaType: 'text/markdown', digest: sha256(layer), size: layer.length, annotations: { [Annotation.title]: 'notes.md' } }],
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
      annotations,
    };
    const encoded = encodeManifest(manifest);
    return pushReferrer(repo, encoded.bytes, encoded.mediaType, subject);
  }

  it('lists the referrers of an image (the sha256-<hex> tag on distribution 2.8), kept only a few seconds', async () => {
    const file = join(work, 'signed.bin');
    await writeFile(file, randomBytes(512));
    const signedRepository = `${prefix}/signed`;
    const image = await pushArtifact({
      client,
      reference: `${host}/${signedRepository}:1`,
      files: [{ path: file }],
      artifactType: CiderMediaType.artifact,
      config: { mediaType: CiderMediaType.config, bytes: Buffer.from(JSON.stringify({ os: 'macOS', version: '15.3' })) },
    });
    const notes = await attach(signedRepository, image.descriptor, 'application/vnd.cider.release-notes.v1+md', '# 15.3\nFixes.', {
      [Annotation.title]: 'Release notes 15.3',
      [Annotation.created]: '2025-01-27T10:00:00Z',
      [Annotation.description]: 'What changed',
      'org.example.other': 'not returned',
    });
    expect(notes.via).toBe('tag');

    const detail = await caller.images.detail({ registryId, repository: signedRepository, reference: '1' });
    expect(detail.referrersNote).toBeNull();
    expect(detail.referrers).toEqual([
      {
        digest: notes.descriptor.digest,
        mediaType: MediaType.ociManifest,
        artifactType: 'application/vnd.cider.release-notes.v1+md',
        size: notes.descriptor.size,
        annotations: { title: 'Release notes 15.3', created: '2025-01-27T10:00:00Z', description: 'What changed' },
      },
    ]);
    // No created in the config: the manifest's annotation stands in.
    expect(detail.cider).toMatchObject({ version: '15.3', created: detail.annotations.created, files: [] });
    expect(detail.cider?.created).toEqual(expect.any(String));

    // The referrer opens as an image of its own, naming its subject.
    const referrer = await caller.images.detail({ registryId, repository: signedRepository, reference: notes.descriptor.digest });
    expect(referrer).toMatchObject({ subject: image.digest, artifactType: 'application/vnd.cider.release-notes.v1+md', referrers: [] });

    // A second referrer shows once the short cache has passed.
    const signature = await attach(signedRepository, image.descriptor, 'application/vnd.example.signature.v1', 'signed', { [Annotation.created]: '2025-01-28T10:00:00Z' });
    expect((await caller.images.detail({ registryId, repository: signedRepository, reference: '1' })).referrers).toHaveLength(1);
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 60_000 });
    try {
      const later = await caller.images.detail({ registryId, repository: signedRepository, reference: '1' });
      expect(later.referrers.map((r) => r.digest)).toEqual([notes.descriptor.digest, signature.descriptor.digest]);
      expect(later.referrers[1]).toMatchObject({ artifactType: 'application/vnd.example.signature.v1', annotations: { title: null, created: '2025-01-28T10:00:00Z', description: null } });
    } finally {
      vi.useRealTimers();
    }
  });

  it('still lays out the image when its referrers cannot be listed, with an empty list and a note', async () => {
    const detail = await caller.images.detail({ registryId: noReferrersRegistryId, repository, reference: '15.2' });
    expect(detail).toMatchObject({ digest: cider.digest, cider: { build: '24C101' }, referrers: [] });
    expect(detail.referrersNote).toMatch(/could not be listed/);
  });

  it('parses Cider configs tolerantly: every field optional, odd values ignored', () => {
    expect(parseCiderConfig(null, [])).toEqual({ os: null, version: null, build: null, architecture: null, devices: [], payload: null, created: null, files: [], moreFiles: 0 });
    const parsed = parseCiderConfig(
      {
        os: 'macOS',
        version: 15,
        devices: ['Mac14,3', 7],
        payload: { name: 'a.ipsw' },
        files: [{ name: 'a.ipsw', kind: 'ipsw', size: 10, parts: [{}, {}] }, 'junk', { name: 'disk.img', size: -1 }, null],
      },
      [],
      { [Annotation.created]: '2025-02-01T00:00:00Z' },
    );
    expect(parsed).toMatchObject({ os: 'macOS', version: null, devices: ['Mac14,3'], payload: { name: 'a.ipsw', size: 10 }, created: '2025-02-01T00:00:00Z' });
    expect(parsed.files).toEqual([
      { name: 'a.ipsw', kind: 'ipsw', mediaType: null, size: 10, digest: null, parts: 2 },
      { name: 'disk.img', kind: null, mediaType: null, size: null, digest: null, parts: 0 },
    ]);
    expect(parseCiderConfig({ created: '2025-03-01T00:00:00Z', files: 'not a list' }, [], { [Annotation.created]: 'ignored' })).toMatchObject({ created: '2025-03-01T00:00:00Z', files: [] });
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
