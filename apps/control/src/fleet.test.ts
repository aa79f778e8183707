// The fleet under stress, against real PostgreSQL, Redis, docker-registry and three agents with
// their own caches: tags moving upstream, an agent going away and coming back, the control
// plane restarting and Redis being flushed in the middle of rollouts. Every case must converge
// with nothing lost and nothing duplicated.
import { join } from 'node:path';
import { createProject, createRegistry, setPin } from '@cider/api/services';
import { useTestDatabase } from '@cider/db/testing';
import { fsck, HostCache, pushArtifact, RegistryClient } from '@cider/oci';
import { syncJobKey } from '@cider/protocol';
import { writeRandomFile } from '@cider/oci/testing';
import { deleteKeys, uniqueRepository, useRedisPrefix } from '@cider/services/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TestFleet, until } from '../testing/fleet.ts';

const database = useTestDatabase();
const redis = useRedisPrefix();
const MiB = 1024 * 1024;
const actor = { label: 'admin@fleet.test' };
const reconcileIntervalMs = 2_000;

describe('fleet rollouts converge (real control plane, 3 agents, PostgreSQL, Redis, registry)', () => {
  let fleet: TestFleet;
  let projectId: string;
  let pusher: RegistryClient;
  const repository = uniqueRepository('fleet');
  let pushes = 0;

  /** Pushes fresh content under a tag; returns the new manifest digest. */
  async function push(tag: string, size = 1 * MiB): Promise<string> {
    const file = join(fleet.work, `push-${pushes++}.bin`);
    await writeRandomFile(file, size);
    return (await pushArtifact({ client: pusher, reference: `${inject('registryHost')}/${repository}:${tag}`, files: [{ path: file }] })).digest;
  }

  const reference = (tag: string) => `${fleet.registryHost}/${repository}:${tag}`;

  /** Nothing lost, nothing duplicated: one done job per node for the digest, no job left open, caches intact. */
  async function expectClean(digest: string): Promise<void> {
    const jobs = await fleet.deps.db.syncJob.findMany({ where: { digest } });
    // Nodes without a done job first: on failure this says which job did not finish, and how.
    const doneNodes = new Set(jobs.filter((j) => j.state === 'done').map((j) => j.nodeId));
    expect(Object.fromEntries(jobs.filter((j) => !doneNodes.has(j.nodeId)).map((j) => [j.nodeId, `${j.state}: ${j.error ?? ''}`]))).toEqual({});
    expect(jobs.filter((j) => j.state === 'done').map((j) => j.nodeId).sort()).toEqual([...new Set(jobs.map((j) => j.nodeId))].sort());
    expect(jobs.filter((j) => j.state === 'done')).toHaveLength(fleet.configs.size);
    expect(jobs.filter((j) => ['queued', 'dispatched', 'pulling'].includes(j.state))).toEqual([]);
    for (const config of fleet.configs.values()) {
      const cache = await HostCache.open(config.cacheDir);
      expect((await cache.listImages()).map((i) => i.digest)).toContain(digest);
      expect((await fsck(cache)).ok).toBe(true);
    }
  }

  beforeAll(async () => {
    fleet = new TestFleet({ databaseUrl: database.url, redisUrl: redis.url, redisPrefix: redis.prefix, registryUrl: inject('registryUrl'), agents: 3, reconcileIntervalMs });
    await fleet.start();
    pusher = new RegistryClient();
    await createRegistry(fleet.deps, actor, { name: 'fleet', host: fleet.registryHost, plainHttp: true, authKind: 'none' });
    const team = await fleet.deps.db.team.create({ data: { name: 'Platform' } });
    projectId = (await createProject(fleet.deps, actor, { name: 'fleet-ci', teamId: team.id, nodeSelector: { pool: 'ci' } })).id;
  });
  afterAll(async () => {
    await pusher?.close();
    await fleet?.stop();
  });

  it('rolls a moved tag out to every node when the pin follows it; a frozen pin raises drift instead', async () => {
    const first = await push('15.2');
    await setPin(fleet.deps, actor, { projectId, reference: reference('15.2'), mode: 'follow' });
    const frozenAt = await push('14.7');
    await setPin(fleet.deps, actor, { projectId, reference: reference('14.7'), mode: 'frozen' });
    await fleet.converged(projectId);
    await expectClean(first);

    const moved = await push('15.2');
    const drifted = await push('14.7');
    await fleet.deps.queues.add('registry-watch', { reason: 'test' });
    await until('the follow pin to take the new digest', async () => (await fleet.deps.db.pin.findFirst({ where: { reference: reference('15.2') } }))?.digest === moved);
    await fleet.converged(projectId);
    await expectClean(moved);

    const frozen = await fleet.deps.db.pin.findFirstOrThrow({ where: { reference: reference('14.7') } });
    await until('the drift alert', async () => (await fleet.deps.db.pin.findFirst({ where: { id: frozen.id } }))?.driftDigest === drifted);
    expect((await fleet.deps.db.pin.findFirstOrThrow({ where: { id: frozen.id } })).digest).toBe(frozenAt);
    expect(await fleet.deps.db.syncJob.count({ where: { digest: drifted } })).toBe(0);
    const actions = (await fleet.deps.db.auditEvent.findMany({ where: { actor: 'system' } })).map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['pin.tag-moved', 'pin.drift']));
  });

  it('holds an offline node\'s job until it comes back, then syncs it', async () => {
    await fleet.stopAgent('mac-3');
    const digest = await push('offline');
    await setPin(fleet.deps, actor, { projectId, reference: reference('offline'), mode: 'follow' });
    const node3 = await fleet.deps.db.node.findFirstOrThrow({ where: { name: 'mac-3' } });
    await until('the online nodes to hold it', async () => (await fleet.deps.db.nodeImage.count({ where: { digest } })) === 2);
    // The offline node's job waits: neither failed nor lost. Its dispatcher has looked at it and
    // set it aside (a delayed queue entry), and a periodic reconcile queued after that has run
    // (job id reconcile-all-<2 s slot>) without failing it or adding a second one.
    await until('the offline node\'s job to be set aside', async () => (await fleet.deps.queues.queue('sync').getJob(syncJobKey(node3.id, digest)))?.isDelayed());
    const slot = Math.floor(Date.now() / reconcileIntervalMs);
    await until('a periodic reconcile to run', async () => {
      const completed = await fleet.deps.queues.queue('reconcile').getJobs(['completed'], 0, 50);
      return completed.some((job) => Number(/^reconcile-all-(\d+)$/.exec(job.id ?? '')?.[1]) > slot);
    }, 15_000);
    const waiting = await fleet.deps.db.syncJob.findMany({ where: { digest, nodeId: node3.id } });
    expect(waiting.map((j) => j.state)).toEqual([expect.stringMatching(/^(queued|dispatched)$/)]);

    await fleet.startAgent('mac-3');
    await fleet.converged(projectId);
    await expectClean(digest);
  });

  it('converges when the control plane restarts in the middle of a rollout', async () => {
    const digest = await push('restart', 6 * MiB);
    fleet.proxy.setRule((req) => (req.method === 'GET' && req.path.includes('/blobs/') ? { kind: 'throttle', bytesPerSecond: 2 * MiB } : undefined));
    const servedBefore = fleet.proxy.blobBytesServed;
    await setPin(fleet.deps, actor, { projectId, reference: reference('restart'), mode: 'follow' });
    await until('pulls to be under way', async () => (await fleet.deps.db.syncJob.count({ where: { digest, state: 'pulling' } })) > 0);
    await fleet.stopControl();
    // Down long enough that every agent lost its connection (and is retrying) mid-pull.
    await until('every agent to lose the control plane', async () => [...fleet.agents.values()].every((agent) => !agent.connected), 10_000);
    await fleet.startControl();
    await fleet.converged(projectId, 90_000);
    fleet.proxy.setRule(undefined);
    await expectClean(digest);
    // No node downloaded it twice.
    expect(fleet.proxy.blobBytesServed - servedBefore).toBeLessThan(3 * 6 * MiB * 1.2);
  }, 120_000);

  it('converges when Redis is flushed in the middle of a rollout', async () => {
    const digest = await push('flush', 6 * MiB);
    fleet.proxy.setRule((req) => (req.method === 'GET' && req.path.includes('/blobs/') ? { kind: 'throttle', bytesPerSecond: 2 * MiB } : undefined));
    await setPin(fleet.deps, actor, { projectId, reference: reference('flush'), mode: 'follow' });
    await until('pulls to be under way', async () => (await fleet.deps.db.syncJob.count({ where: { digest, state: 'pulling' } })) > 0);
    // Everything this deployment keeps in Redis: queues, jobs, locks, limits.
    await deleteKeys(redis.url, `${redis.prefix}*`);
    await fleet.converged(projectId, 90_000);
    fleet.proxy.setRule(undefined);
    await expectClean(digest);
  }, 120_000);
});
