// The control plane's and an agent's /metrics, scraped over HTTP from the real processes (control
// plane in this process, a real agent, PostgreSQL, Redis and the registry): a rollout and a tag
// that moves under a frozen pin change the numbers, promtool accepts every scrape, the names
// deploy/'s dashboard and alert rules use all exist, and a scrape while PostgreSQL and Redis are
// unreachable still answers, saying so.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createServiceDeps } from '@cider/api';
import { createProject, createRegistry, setPin } from '@cider/api/services';
import { useTestDatabase } from '@cider/db/testing';
import { pushArtifact, RegistryClient } from '@cider/oci';
import { writeRandomFile } from '@cider/oci/testing';
import { metricsEndpoint, startMetricsServer } from '@cider/protocol/metrics-endpoint';
import { deployMetricNames, exportedNames, promtoolCheckMetrics, sampleValue, uniqueRepository, useRedisPrefix } from '@cider/services/testing';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TestFleet, until } from '../../testing/fleet.ts';
import { startControl } from '../server.ts';
import { ControlMetrics } from './control-metrics.ts';

const database = useTestDatabase();
const redis = useRedisPrefix();
const MiB = 1024 * 1024;
const actor = { label: 'admin@fleet.test' };
const token = `metrics-${randomBytes(12).toString('hex')}`;

async function scrape(url: string, bearer?: string): Promise<string> {
  const response = await fetch(url, bearer ? { headers: { authorization: `Bearer ${bearer}` } } : {});
  const text = await response.text();
  if (response.status !== 200) throw new Error(`${url} answered ${response.status}: ${text}`);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return text;
}

/** promtool's verdict: nothing to say, exit 0. */
async function expectPromtoolAccepts(text: string): Promise<void> {
  const result = await promtoolCheckMetrics(text);
  expect(result.output).toBe('');
  expect(result.code).toBe(0);
}

const total = (text: string, name: string, labels: Record<string, string> = {}) => sampleValue(text, name, labels) ?? Number.NaN;

describe('control plane and agent /metrics (real control plane, agent, PostgreSQL, Redis, registry)', () => {
  let fleet: TestFleet;
  let pusher: RegistryClient;
  const controlUrl = () => `http://127.0.0.1:${fleet.control!.metricsPort}/metrics`;
  const agentUrl = () => `http://127.0.0.1:${fleet.agents.get('mac-1')!.metricsPort}/metrics`;

  beforeAll(async () => {
    fleet = new TestFleet({
      databaseUrl: database.url,
      redisUrl: redis.url,
      redisPrefix: redis.prefix,
      registryUrl: inject('registryUrl'),
      agents: 1,
      reconcileIntervalMs: 1_000,
      // cacheMs 0: every scrape reads PostgreSQL, so a change shows in the next one.
      control: { metrics: { token, listen: { host: '127.0.0.1', port: 0 }, cacheMs: 0 } },
      agent: { metrics: { host: '127.0.0.1', port: 0 } },
    });
    await fleet.start();
    pusher = new RegistryClient();
    await createRegistry(fleet.deps, actor, { name: 'metrics', host: fleet.registryHost, plainHttp: true, authKind: 'none' });
  });
  afterAll(async () => {
    await pusher?.close();
    await fleet?.stop();
  });

  it('counts a rollout and a moved tag; promtool accepts both endpoints; deploy/ names only exported metrics', async () => {
    const before = await scrape(controlUrl(), token);
    await expectPromtoolAccepts(before);
    expect(total(before, 'cider_control_agents_connected')).toBe(1);
    expect(total(before, 'cider_control_database_up')).toBe(1);
    expect(total(before, 'cider_control_redis_up')).toBe(1);
    expect(total(before, 'cider_control_nodes', { status: 'online' })).toBe(1);
    expect(total(before, 'cider_control_synced_bytes_total', { source: 'registry' })).toBe(0);
    expect(total(before, 'cider_control_dispatch_latency_seconds_count')).toBe(0);

    const team = await fleet.deps.db.team.create({ data: { name: 'Platform' } });
    const project = await createProject(fleet.deps, actor, { name: 'metrics-ci', teamId: team.id, nodeSelector: { pool: 'ci' } });
    const repository = uniqueRepository('metrics');
    const push = async (seed: string) => {
      const file = join(fleet.work, `${seed}.bin`);
      await writeRandomFile(file, 2 * MiB);
      return (await pushArtifact({ client: pusher, reference: `${inject('registryHost')}/${repository}:1`, files: [{ path: file }] })).digest;
    };
    await push('first');
    await setPin(fleet.deps, actor, { projectId: project.id, reference: `${fleet.registryHost}/${repository}:1`, mode: 'frozen' });
    await fleet.converged(project.id);

    const after = await scrape(controlUrl(), token);
    await expectPromtoolAccepts(after);
    expect(total(after, 'cider_control_synced_bytes_total', { source: 'registry' })).toBeGreaterThanOrEqual(2 * MiB);
    expect(total(after, 'cider_control_dispatch_latency_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(total(after, 'cider_control_sync_jobs', { state: 'done' })).toBe(1);
    expect(total(after, 'cider_control_sync_jobs', { state: 'queued' })).toBe(0);
    for (const reason of ['offline', 'syncing', 'failed', 'drift']) expect(total(after, 'cider_control_pinned_images_missing', { reason })).toBe(0);
    const reconciles = ['all', 'node', 'project'].reduce((sum, scope) => sum + (sampleValue(after, 'cider_control_reconcile_duration_seconds_count', { scope }) ?? 0), 0);
    expect(reconciles).toBeGreaterThan(0);
    for (const state of ['waiting', 'prioritized', 'delayed', 'active']) expect(sampleValue(after, 'cider_control_queue_jobs', { queue: 'sync', state })).toBeGreaterThanOrEqual(0);
    expect(sampleValue(after, 'cider_control_queue_oldest_waiting_age_seconds', { queue: 'reconcile' })).toBeGreaterThanOrEqual(0);
    // Bounded labels: no digest, node id or node name on any series.
    const node = await fleet.deps.db.node.findFirstOrThrow({ where: { name: 'mac-1' } });
    expect(after).not.toContain('sha256:');
    expect(after).not.toContain(node.id);
    expect(after).not.toMatch(/="mac-1"/);

    // The tag moves upstream under the frozen pin: drift from the registry.
    expect(total(after, 'cider_control_pins_tag_moved')).toBe(0);
    await push('second');
    await fleet.deps.queues.add('registry-watch', { reason: 'test' });
    await until('the frozen pin to notice its tag moved', async () => (await fleet.deps.db.pin.findFirst({ where: { projectId: project.id } }))?.driftDigest);
    const moved = await scrape(controlUrl(), token);
    expect(total(moved, 'cider_control_pins_tag_moved')).toBe(1);

    const agent = await scrape(agentUrl());
    await expectPromtoolAccepts(agent);
    expect(total(agent, 'cider_agent_connected')).toBe(1);
    expect(total(agent, 'cider_agent_pulled_bytes_total', { source: 'registry' })).toBeGreaterThanOrEqual(2 * MiB);
    expect(total(agent, 'cider_agent_syncs_total', { outcome: 'done' })).toBe(1);
    expect(total(agent, 'cider_agent_cache_bytes')).toBeGreaterThanOrEqual(2 * MiB);
    expect(total(agent, 'cider_agent_disk_free_bytes')).toBeGreaterThan(0);
    expect(total(agent, 'cider_agent_disk_total_bytes')).toBeGreaterThanOrEqual(total(agent, 'cider_agent_disk_free_bytes'));
    expect(total(agent, 'cider_agent_verification_failures_total', { source: 'peer' })).toBe(0);

    // Every control and agent metric deploy/ uses is one these endpoints export (a typo fails here).
    const used = [...(await deployMetricNames())];
    const exported = new Set([...exportedNames(moved), ...exportedNames(agent)]);
    expect(used.filter((name) => name.startsWith('cider_control_'))).not.toEqual([]);
    expect(used.filter((name) => (name.startsWith('cider_control_') || name.startsWith('cider_agent_')) && !exported.has(name))).toEqual([]);
  });

  it('counts a pull the registry refuses as a registry error by its code, on the control plane and the agent', async () => {
    const team = await fleet.deps.db.team.create({ data: { name: 'Faults' } });
    const repository = uniqueRepository('metrics-faults');
    const file = join(fleet.work, 'faults.bin');
    await writeRandomFile(file, 1 * MiB);
    await pushArtifact({ client: pusher, reference: `${inject('registryHost')}/${repository}:1`, files: [{ path: file }] });
    const before = await scrape(controlUrl(), token);
    const agentBefore = await scrape(agentUrl());
    const failedJobs = () => fleet.deps.db.syncJob.count({ where: { state: 'failed' } });
    const failedBefore = await failedJobs();

    // The registry answers 401 to the agent's manifest request (the pin itself resolved before the rule).
    const project = await createProject(fleet.deps, actor, { name: 'metrics-refused', teamId: team.id, nodeSelector: { pool: 'ci' } });
    await setPin(fleet.deps, actor, { projectId: project.id, reference: `${fleet.registryHost}/${repository}:1`, mode: 'follow' });
    fleet.proxy.setRule((req) => (req.path.includes('/manifests/') || req.path.includes('/blobs/') ? { kind: 'status', status: 401, body: '{"errors":[{"code":"UNAUTHORIZED","message":"no"}]}' } : undefined));
    try {
      await until('the refused sync to fail', async () => (await failedJobs()) > failedBefore, 30_000);
    } finally {
      fleet.proxy.setRule(undefined);
    }
    const refused = await scrape(controlUrl(), token);
    await expectPromtoolAccepts(refused);
    const code = (text: string, name: string) =>
      Object.fromEntries([...text.matchAll(new RegExp(`^${name}\\{code="(\\w+)"\\} (\\S+)$`, 'gm'))].map((m) => [m[1], Number(m[2])]));
    expect(code(refused, 'cider_control_registry_errors_total').UNAUTHORIZED ?? 0).toBeGreaterThan(code(before, 'cider_control_registry_errors_total').UNAUTHORIZED ?? 0);
    expect(total(await scrape(agentUrl()), 'cider_agent_syncs_total', { outcome: 'failed' })).toBeGreaterThan(total(agentBefore, 'cider_agent_syncs_total', { outcome: 'failed' }));
  });

  it('counts bytes that fail their digest as verification failures, on the control plane and the agent', async () => {
    const team = await fleet.deps.db.team.create({ data: { name: 'Tampered' } });
    const repository = uniqueRepository('metrics-tampered');
    const file = join(fleet.work, 'tampered.bin');
    await writeRandomFile(file, 1 * MiB);
    await pushArtifact({ client: pusher, reference: `${inject('registryHost')}/${repository}:1`, files: [{ path: file }] });
    const before = await scrape(controlUrl(), token);
    const agentBefore = await scrape(agentUrl());
    const failedBefore = await fleet.deps.db.syncJob.count({ where: { state: 'failed' } });

    const project = await createProject(fleet.deps, actor, { name: 'metrics-tampered', teamId: team.id, nodeSelector: { pool: 'ci' } });
    await setPin(fleet.deps, actor, { projectId: project.id, reference: `${fleet.registryHost}/${repository}:1`, mode: 'follow' });
    // Every blob the registry serves has a byte flipped on the way.
    fleet.proxy.setRule((req) => (req.method === 'GET' && req.path.includes('/blobs/') ? { kind: 'flip-byte', at: 100 } : undefined));
    try {
      await until('the tampered sync to fail', async () => (await fleet.deps.db.syncJob.count({ where: { state: 'failed' } })) > failedBefore, 30_000);
    } finally {
      fleet.proxy.setRule(undefined);
    }
    const after = await scrape(controlUrl(), token);
    const agentAfter = await scrape(agentUrl());
    expect(total(after, 'cider_control_verification_failures_total', { source: 'origin' })).toBeGreaterThan(total(before, 'cider_control_verification_failures_total', { source: 'origin' }));
    expect(total(agentAfter, 'cider_agent_verification_failures_total', { source: 'origin' })).toBeGreaterThan(total(agentBefore, 'cider_agent_verification_failures_total', { source: 'origin' }));
    await expectPromtoolAccepts(agentAfter);
  });

  it('labels failures with known codes only, and counts registry ones and verification failures apart', async () => {
    const metrics = fleet.control!.metrics;
    const before = await scrape(controlUrl(), token);
    metrics.syncFailed(randomBytes(4).toString('hex'), 'UNAUTHORIZED');
    metrics.syncFailed(randomBytes(4).toString('hex'), 'DIGEST_MISMATCH');
    metrics.syncFailed(randomBytes(4).toString('hex'), 'INSUFFICIENT_SPACE');
    metrics.syncFailed(randomBytes(4).toString('hex'), 'made-up <code> from a hostile agent');
    const text = await scrape(controlUrl(), token);
    await expectPromtoolAccepts(text);
    const added = (name: string, labels: Record<string, string>) => (sampleValue(text, name, labels) ?? 0) - (sampleValue(before, name, labels) ?? 0);
    expect(added('cider_control_registry_errors_total', { code: 'UNAUTHORIZED' })).toBe(1);
    expect(added('cider_control_registry_errors_total', { code: 'DIGEST_MISMATCH' })).toBe(0);
    expect(sampleValue(text, 'cider_control_registry_errors_total', { code: 'INSUFFICIENT_SPACE' })).toBeUndefined();
    expect(added('cider_control_sync_failures_total', { code: 'INSUFFICIENT_SPACE' })).toBe(1);
    expect(added('cider_control_sync_failures_total', { code: 'OTHER' })).toBe(1);
    expect(added('cider_control_verification_failures_total', { source: 'origin' })).toBe(1);
    expect(text).not.toContain('made-up');
  });

  it('answers only with the token, and only on its own listener', async () => {
    expect((await fetch(controlUrl())).status).toBe(401);
    expect((await fetch(controlUrl(), { headers: { authorization: `Bearer ${token}x` } })).status).toBe(401);
    expect((await fetch(controlUrl(), { method: 'POST', headers: { authorization: `Bearer ${token}` } })).status).toBe(405);
    expect((await fetch(controlUrl().replace('/metrics', '/other'))).status).toBe(404);
    // With a listener of its own, the gateway's port (which every Mac reaches) serves no metrics.
    expect((await fetch(`${fleet.control!.url}/metrics`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(404);
  });

  it('serves /metrics on the gateway port behind the token when there is no listener of its own, and not at all with neither', async () => {
    const base = { databaseUrl: database.url, redisUrl: redis.url, redisPrefix: redis.prefix, secretKey: randomBytes(32).toString('base64'), host: '127.0.0.1', port: 0 };
    const settings = { maxConcurrentPulls: 1, maxPullsPerNode: 1, reconcileIntervalMs: 60_000, registryWatchIntervalMs: 60 * 60_000, heartbeatIntervalMs: 2_000, syncStallTimeoutMs: 20_000, log: pino({ level: 'silent' }) };
    const withToken = await startControl({ ...base, ...settings, metrics: { token } });
    const without = await startControl({ ...base, ...settings });
    try {
      expect(withToken.metricsPort).toBeUndefined();
      expect((await fetch(`${withToken.url}/metrics`)).status).toBe(401);
      await expectPromtoolAccepts(await scrape(`${withToken.url}/metrics`, token));
      expect((await fetch(`${without.url}/metrics`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(404);
    } finally {
      await withToken.close();
      await without.close();
    }
  });

  it('answers while PostgreSQL and Redis are unreachable, with database_up and redis_up 0', async () => {
    const log = pino({ level: 'silent' });
    // Nothing listens on port 1: connections are refused at once (and Redis keeps retrying).
    const down = createServiceDeps({ databaseUrl: 'postgresql://cider@127.0.0.1:1/cider', redisUrl: 'redis://127.0.0.1:1', redisPrefix: redis.prefix, secretKey: randomBytes(32).toString('base64'), log });
    const metrics = new ControlMetrics({ deps: down.deps, log, connectedAgents: () => 3, timeoutMs: 1_000 });
    const server = await startMetricsServer(metricsEndpoint(metrics, { log }), { host: '127.0.0.1', port: 0 }, log);
    try {
      const text = await scrape(`http://127.0.0.1:${server.port}/metrics`);
      await expectPromtoolAccepts(text);
      expect(total(text, 'cider_control_database_up')).toBe(0);
      expect(total(text, 'cider_control_redis_up')).toBe(0);
      expect(total(text, 'cider_control_agents_connected')).toBe(3);
    } finally {
      await server.close();
      await down.close().catch(() => {});
    }
  });
});
