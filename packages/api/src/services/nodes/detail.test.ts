// The node page's data through nodes.get (real PostgreSQL and Redis).
import { randomBytes } from 'node:crypto';
import { useTestDatabase } from '@cider/db/testing';
import type { HostFacts } from '@cider/protocol';
import { useRedisPrefix } from '@cider/services/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServiceDeps } from '../../deps-factory.ts';
import { createCaller } from '../../root.ts';
import { nodeJobHistory } from './detail.ts';

const database = useTestDatabase();
const redis = useRedisPrefix();

const held = `sha256:${'1'.repeat(64)}`;
const stray = `sha256:${'2'.repeat(64)}`;
const wanted = `sha256:${'3'.repeat(64)}`;

const facts: HostFacts = {
  hostname: 'mac-01.local',
  os: { platform: 'macOS', release: '24.2.0', version: '15.2' },
  architecture: 'arm64',
  cpu: { model: 'Apple M2 Pro', cores: 12 },
  memoryBytes: 32 * 2 ** 30,
  disk: { totalBytes: 1000e9, freeBytes: 400e9 },
  cache: { path: '/Library/Caches/Cider', bytes: 30e9, quotaBytes: 200e9 },
  conditions: [],
  peer: { port: 7941, addresses: ['10.0.0.7'], uploadedBytes: 42e9, uploadsInFlight: 2 },
};

describe('nodes.get (real PostgreSQL, Redis)', () => {
  let services: ReturnType<typeof createServiceDeps>;
  let caller: ReturnType<typeof createCaller>;
  let nodeId: string;

  beforeAll(async () => {
    services = createServiceDeps({ databaseUrl: database.url, redisUrl: redis.url, redisPrefix: redis.prefix, secretKey: randomBytes(32).toString('base64') });
    const db = services.deps.db;
    const user = await db.user.create({ data: { email: 'viewer@example.com', name: 'Viewer', passwordHash: 'x', role: 'viewer' } });
    caller = createCaller({
      deps: services.deps,
      hub: services.hub,
      user: { id: user.id, email: user.email, name: user.name, role: 'viewer', teams: [] },
      sessionToken: undefined,
      userAgent: undefined,
      setSessionCookie: () => {},
    });
    const node = await db.node.create({
      data: { name: 'mac-01', labels: { pool: 'ios-ci' }, secretHash: 'x'.repeat(64), state: 'online', lastSeenAt: new Date(), agentVersion: '0.1.0', facts },
    });
    nodeId = node.id;
    await db.node.create({ data: { name: 'mac-02', labels: { pool: 'other' }, secretHash: 'y'.repeat(64) } });
    const registry = await db.registry.create({ data: { name: 'example', host: 'registry.example.com' } });
    const team = await db.team.create({ data: { name: 'Platform' } });
    const ios = await db.project.create({ data: { name: 'ios-ci', teamId: team.id, nodeSelector: { pool: 'ios-ci' } } });
    const everyone = await db.project.create({ data: { name: 'everyone', teamId: team.id, nodeSelector: {} } });
    await db.project.create({ data: { name: 'elsewhere', teamId: team.id, nodeSelector: { pool: 'other' } } });
    const pin = (projectId: string, tag: string, digest: string) =>
      db.pin.create({ data: { projectId, registryId: registry.id, reference: `registry.example.com/macos:${tag}`, repository: 'macos', tag, digest, resolvedAt: new Date() } });
    await pin(ios.id, '15.2', held);
    await pin(everyone.id, '15.2', held);
    await pin(everyone.id, '15.3', wanted);
    await db.nodeImage.create({ data: { nodeId, digest: held, reference: 'registry.example.com/macos:15.2', size: 15_000_000_000n, verifiedAt: new Date('2025-01-02T00:00:00Z') } });
    await db.nodeImage.create({
      data: { nodeId, digest: stray, reference: 'registry.example.com/macos:14.7', size: 14_000_000_000n, verifiedAt: new Date('2025-01-01T00:00:00Z'), lastUsedAt: new Date('2025-01-03T00:00:00Z') },
    });
    for (let i = 0; i < nodeJobHistory + 5; i++) {
      await db.syncJob.create({
        data: { key: `sync:${nodeId}:${i}`, nodeId, digest: wanted, reference: 'registry.example.com/macos:15.3', state: 'failed', error: `attempt ${i}`, createdAt: new Date(Date.UTC(2025, 0, 1, 0, i)) },
      });
    }
    await db.syncJob.create({ data: { key: `sync:${nodeId}:now`, nodeId, digest: wanted, reference: 'registry.example.com/macos:15.3', state: 'pulling', bytesDone: 10n, bytesTotal: 100n } });
  });
  afterAll(async () => {
    await services?.close();
  });

  it('shows facts, presence, held images pinned or not, what is missing, projects and latest jobs', async () => {
    const node = await caller.nodes.get({ nodeId });
    expect(node).toMatchObject({
      id: nodeId,
      name: 'mac-01',
      status: 'online',
      labels: { pool: 'ios-ci' },
      agentVersion: '0.1.0',
      revokedAt: null,
      facts: {
        hostname: 'mac-01.local',
        os: { platform: 'macOS', release: '24.2.0', version: '15.2' },
        architecture: 'arm64',
        cpu: { model: 'Apple M2 Pro', cores: 12 },
        memoryBytes: 32 * 2 ** 30,
        disk: { totalBytes: 1000e9, freeBytes: 400e9 },
        cache: { path: '/Library/Caches/Cider', bytes: 30e9, quotaBytes: 200e9 },
        peer: { port: 7941, addresses: ['10.0.0.7'], uploadedBytes: 42e9, uploadsInFlight: 2 },
      },
    });
    expect(node.images).toEqual([
      expect.objectContaining({ digest: held, size: 15_000_000_000, pinned: true, pinnedBy: [expect.objectContaining({ projectName: 'everyone' }), expect.objectContaining({ projectName: 'ios-ci' })] }),
      expect.objectContaining({ digest: stray, pinned: false, pinnedBy: [], lastUsedAt: new Date('2025-01-03T00:00:00Z') }),
    ]);
    expect(node.missing).toEqual([{ digest: wanted, pinnedBy: [expect.objectContaining({ projectName: 'everyone', reference: 'registry.example.com/macos:15.3' })] }]);
    expect(node.projects.map((p) => p.name)).toEqual(['everyone', 'ios-ci']);
    expect(node.projects.find((p) => p.name === 'ios-ci')).toMatchObject({ team: 'Platform', nodeSelector: 'pool=ios-ci', pins: 1 });
    expect(node.jobs).toHaveLength(nodeJobHistory);
    expect(node.jobs[0]).toMatchObject({ state: 'pulling', bytesDone: 10, bytesTotal: 100, node: { id: nodeId, name: 'mac-01' } });
    expect(node.jobs[1]).toMatchObject({ state: 'failed', error: `attempt ${nodeJobHistory + 4}` });
    // Sources are known only once a pull finished and its agent reported them.
    expect(node.jobs[0]!.sources).toBeNull();
  });

  it("shows a finished job's bytes by source, and its origin", async () => {
    const peer = (await services.deps.db.node.findFirstOrThrow({ where: { name: 'mac-02' } })).id;
    const job = await services.deps.db.syncJob.create({
      data: {
        key: `sync:${nodeId}:sourced`,
        nodeId,
        digest: held,
        reference: 'registry.example.com/macos:15.2',
        state: 'done',
        origin: true,
        bytesFromRegistry: 300n,
        bytesFromMirror: 0n,
        bytesFromPeers: 700n,
        peerSources: { [peer]: 700 },
        finishedAt: new Date(),
      },
    });
    const node = await caller.nodes.get({ nodeId });
    expect(node.jobs.find((j) => j.id === job.id)?.sources).toEqual({ origin: true, registry: 300, mirror: 0, peers: 700, peerCount: 1 });
    await services.deps.db.syncJob.delete({ where: { id: job.id } });
  });

  it('keeps a node without facts readable, and says when there is no such node', async () => {
    const other = await services.deps.db.node.findUniqueOrThrow({ where: { name: 'mac-02' } });
    const node = await caller.nodes.get({ nodeId: other.id });
    expect(node).toMatchObject({ status: 'offline', facts: null, images: [], jobs: [] });
    expect(node.missing.map((m) => m.digest)).toEqual([held, wanted]);
    expect(node.projects.map((p) => p.name)).toEqual(['elsewhere', 'everyone']);
    await expect(caller.nodes.get({ nodeId: '00000000-0000-4000-8000-000000000000' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
