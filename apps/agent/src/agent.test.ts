// The agent against a stand-in control plane (a real WebSocket server) and the real registry:
// a disk that is too full (a real tmpfs) evicts unpinned images to make room and never a pinned
// one, or fails the sync with INSUFFICIENT_SPACE and a node condition in the heartbeats until the
// disk has room; a rotated secret is stored and used; hostile or malformed control messages
// leave it running and unchanged.
import { rm, mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pushArtifact, RegistryClient } from '@cider/oci';
import { mountTmpfs, startFaultProxy, writeRandomFile, type FaultProxy, type SmallDisk } from '@cider/oci/testing';
import { generateNodeKeyPair, sealBox, secretContext, type HostFacts } from '@cider/protocol';
import { uniqueRepository } from '@cider/services/testing';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { Agent } from './agent.ts';
import type { AgentConfig } from './config.ts';
import { startStubControl, type StubControl } from '../testing/stub-control.ts';

const MiB = 1024 * 1024;
const log = pino({ level: process.env.CIDER_TEST_LOG ?? 'silent' });

function jobId(n: number): string {
  return `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
}

describe('agent against a stand-in control plane (real registry)', () => {
  let work: string;
  let proxy: FaultProxy;
  let client: RegistryClient;
  let control: StubControl | undefined;
  let agent: Agent | undefined;
  let disk: SmallDisk | undefined;
  const repository = uniqueRepository('agent');
  const digests: Record<string, string> = {};

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cider-agent-'));
    proxy = await startFaultProxy(inject('registryUrl'));
    client = new RegistryClient();
    for (const [tag, mib] of [['old', 12], ['pinned', 12], ['big', 30], ['bigger', 30]] as const) {
      const file = join(work, `${tag}.bin`);
      await writeRandomFile(file, mib * MiB);
      digests[tag] = (await pushArtifact({ client, reference: `${proxy.host}/${repository}:${tag}`, files: [{ path: file }] })).digest;
    }
  });
  afterEach(async () => {
    await agent?.stop();
    agent = undefined;
    await control?.close();
    control = undefined;
    await disk?.close();
    disk = undefined;
  });
  afterAll(async () => {
    await client.close();
    await proxy.close();
    await rm(work, { recursive: true, force: true });
  });

  async function startAgent(cacheDir: string, options: { configPath?: string; pinned?: string[] } = {}): Promise<{ agent: Agent; control: StubControl; config: AgentConfig }> {
    const keys = generateNodeKeyPair();
    const config: AgentConfig = { server: '', nodeId: 'node-1', nodeName: 'stub-node', secret: 'cns_first-secret-123', ...keys, cacheDir };
    control = await startStubControl({ nodeId: config.nodeId, secret: config.secret, pinned: options.pinned });
    config.server = control.url;
    if (options.configPath) await writeFile(options.configPath, JSON.stringify(config), { mode: 0o600 });
    agent = new Agent({ config, configPath: options.configPath, log, reconnectBaseMs: 50, reconnectMaxMs: 200, progressIntervalMs: 50, headroomBytes: MiB });
    const connected = agent.whenConnected();
    await agent.start();
    await connected;
    return { agent, control, config };
  }

  function sync(n: number, tag: string) {
    control!.send({ type: 'sync', jobId: jobId(n), digest: digests[tag]!, reference: `${proxy.host}/${repository}:${tag}`, registry: { host: proxy.host, plainHttp: true } });
  }

  async function outcome(n: number) {
    const id = jobId(n);
    const done = control!.waitFor('sync.done', (m) => m.jobId === id, 0);
    const failed = control!.waitFor('sync.failed', (m) => m.jobId === id, 0);
    return Promise.race([done, failed]);
  }

  function conditionsIn(facts: HostFacts) {
    return facts.conditions.filter((c) => c.type === 'insufficient-space');
  }

  it('disk full: evicts an unpinned image to make room (never a pinned one), else fails with the numbers and a node condition until space is freed', async (context) => {
    disk = await mountTmpfs(work, 'disk', 96 * MiB);
    if (disk.kind !== 'tmpfs') {
      console.info(`agent disk-full test skipped: no tmpfs here (${disk.reason}); packages/oci/src/cache/disk-full.test.ts covers a full disk with injected ENOSPC`);
      context.skip();
    }
    console.info(`agent disk-full test: tmpfs at ${disk.dir}`);
    const { control } = await startAgent(join(disk.dir, 'cache'), { pinned: [] });
    control.send({ type: 'pinned', digests: [digests.pinned!] });
    sync(1, 'old');
    expect(await outcome(1)).toMatchObject({ type: 'sync.done' });
    sync(2, 'pinned');
    expect(await outcome(2)).toMatchObject({ type: 'sync.done' });

    // Another program leaves 20 MiB free: the 30 MiB image needs "old" to go, and "old" is enough.
    const filler = join(disk.dir, 'filler');
    const { statfs } = await import('node:fs/promises');
    const fs = await statfs(disk.dir);
    await writeFile(filler, Buffer.alloc(fs.bavail * fs.bsize - 20 * MiB, 1));
    sync(3, 'big');
    expect(await outcome(3)).toMatchObject({ type: 'sync.done', digest: digests.big });
    const evictions = control.received.filter((m) => m.type === 'eviction');
    expect(evictions.map((e) => e.digest)).toEqual([digests.old]);
    const held = (await agent!.inventory()).map((i) => i.digest).sort();
    expect(held).toEqual([digests.pinned, digests.big].sort());

    // Both held images are pinned now (and the next one): nothing may go, and it does not fit.
    // No wait needed: one socket delivers in order, and the agent takes the pinned set as the
    // message arrives, before it starts the sync that follows.
    control.send({ type: 'pinned', digests: [digests.pinned!, digests.big!, digests.bigger!] });
    const before = control.received.length;
    sync(4, 'bigger');
    const failed = await outcome(4);
    expect(failed).toMatchObject({ type: 'sync.failed', code: 'INSUFFICIENT_SPACE', retryable: false });
    if (failed.type !== 'sync.failed') throw new Error('unreachable');
    expect(failed.space!.neededBytes).toBeGreaterThan(30 * MiB);
    expect(failed.space!.freeBytes).toBeLessThan(failed.space!.neededBytes);
    expect(failed.message).toMatch(/^Disk full: needs \d+(\.\d)? MiB, \d+(\.\d)? (KiB|MiB) free/);
    // The condition went out in a heartbeat before the failure, and nothing pinned was evicted.
    const failedAt = control.received.indexOf(failed);
    const heartbeat = control.received.slice(before, failedAt).findLast((m) => m.type === 'heartbeat');
    expect(heartbeat && conditionsIn(heartbeat.facts)).toEqual([
      expect.objectContaining({ digest: digests.bigger, neededBytes: failed.space!.neededBytes, freeBytes: failed.space!.freeBytes }),
    ]);
    expect(control.received.filter((m) => m.type === 'eviction')).toHaveLength(1);

    // The same digest again on the unchanged disk: the same answer at once, no registry traffic.
    proxy.requests.length = 0;
    sync(5, 'bigger');
    const again = await outcome(5);
    expect(again).toMatchObject({ type: 'sync.failed', code: 'INSUFFICIENT_SPACE', space: failed.space });
    expect(proxy.requests).toEqual([]);

    // Heartbeats keep the condition while the disk is unchanged, and drop it once space is freed.
    const stillThere = await control.waitFor('heartbeat', undefined, control.received.length);
    expect(conditionsIn(stillThere.facts)).toHaveLength(1);
    await rm(filler);
    const cleared = await control.waitFor('heartbeat', (m) => conditionsIn(m.facts).length === 0, control.received.length);
    expect(cleared.facts.disk.freeBytes).toBeGreaterThan(failed.space!.neededBytes);
    sync(6, 'bigger');
    expect(await outcome(6)).toMatchObject({ type: 'sync.done', digest: digests.bigger });
    expect(control.malformed).toEqual([]);
  });

  it('stores a rotated secret (sealed to its key) atomically, says so, and reconnects with it when told', async () => {
    const configPath = join(work, 'rotate.json');
    const { control, config } = await startAgent(join(work, 'cache-rotate'), { configPath });
    const next = 'cns_rotated-secret-456';
    const from = control.received.length;
    control.send({ type: 'secret', sealed: sealBox(config.publicKey, next, secretContext(config.nodeId)) });
    await control.waitFor('secret.stored', undefined, from);
    const stored = JSON.parse(await readFile(configPath, 'utf8')) as AgentConfig;
    expect(stored.secret).toBe(next);
    expect(stored.privateKey).toBe(config.privateKey);
    expect((await stat(configPath)).mode & 0o777).toBe(0o600);
    // The control plane retires the old secret and closes the socket: the agent comes back with the new one.
    control.secret = next;
    control.closeSocket(4410, 'secret rotated');
    await control.waitFor('hello', undefined, control.received.length);
    expect(control.authorizations.at(-1)).toBe(`Bearer ${config.nodeId}.${next}`);
  });

  it('purges its whole cache, pinned images too, when a decommission says so, even as its socket closes right after', async () => {
    const { agent, control } = await startAgent(join(work, 'cache-purge'), { pinned: [] });
    control.send({ type: 'pinned', digests: [digests.pinned!] });
    sync(11, 'old');
    expect(await outcome(11)).toMatchObject({ type: 'sync.done' });
    sync(12, 'pinned');
    expect(await outcome(12)).toMatchObject({ type: 'sync.done' });
    expect(await agent.inventory()).toHaveLength(2);
    // As the control plane sends it: the purge, then at once the revoked node's close.
    control.send({ type: 'purge', reason: 'decommissioned by admin@example.com' });
    control.closeSocket(4403, 'this node was decommissioned by an admin');
    await vi.waitFor(async () => expect(await agent.inventory()).toEqual([]), { timeout: 10_000, interval: 50 });
    expect(agent.pinnedDigests.size).toBe(0);
    expect(control.malformed).toEqual([]);
  });

  it('survives hostile and malformed control messages: running, connected, config unchanged', async () => {
    const configPath = join(work, 'hostile.json');
    const { control, config } = await startAgent(join(work, 'cache-hostile'), { configPath });
    const original = await readFile(configPath, 'utf8');
    const other = generateNodeKeyPair();
    const hostile: string[] = [
      'not json',
      JSON.stringify({ type: 'unknown' }),
      JSON.stringify({ type: 'secret', sealed: 'AAAA' }),
      // Sealed to another node, for another node's context, and for a job context: none opens here.
      JSON.stringify({ type: 'secret', sealed: sealBox(other.publicKey, 'cns_stolen-secret-789', secretContext(config.nodeId)) }),
      JSON.stringify({ type: 'secret', sealed: sealBox(config.publicKey, 'cns_stolen-secret-789', secretContext('node-2')) }),
      // Opens, but is not a secret.
      JSON.stringify({ type: 'secret', sealed: sealBox(config.publicKey, 'has spaces\nand lines', secretContext(config.nodeId)) }),
      JSON.stringify({ type: 'grant', jobId: jobId(99), registry: { host: 'x', plainHttp: false, grant: 'garbage' } }),
      JSON.stringify({ type: 'sync', jobId: jobId(98), digest: digests.old, reference: `${proxy.host}/${repository}:old`, registry: { host: proxy.host, plainHttp: true, grant: 'not a sealed box' } }),
      JSON.stringify({ type: 'sync', jobId: '../../etc', digest: 'sha256:zz', reference: 'x', registry: {} }),
      JSON.stringify({ type: 'welcome', nodeId: 'n', nodeName: 'n', heartbeatIntervalMs: -1 }),
      JSON.stringify({ type: 'pinned', digests: 'everything' }),
      JSON.stringify({ type: 'cancel', jobId: jobId(97), reason: 'x'.repeat(10_000) }),
    ];
    for (const frame of hostile) control.send(frame);
    // The sync with an unopenable grant fails as a sync, with a message, and nothing else.
    const failed = await control.waitFor('sync.failed', (m) => m.jobId === jobId(98), 0);
    expect(failed.message).toMatch(/does not open with this node's key/);
    // Still alive and talking: a heartbeat after all of it, on the same connection.
    const from = control.received.length;
    await control.waitFor('heartbeat', undefined, from);
    expect(agent!.connected).toBe(true);
    expect(control.connections).toBe(1);
    expect(control.received.some((m) => m.type === 'secret.stored')).toBe(false);
    expect(await readFile(configPath, 'utf8')).toBe(original);
    expect(agent!.config.secret).toBe(config.secret);
    expect(control.malformed).toEqual([]);
  });

  it('refuses plain ws:// to a control plane that is not on loopback unless the config says insecure', async () => {
    const keys = generateNodeKeyPair();
    const base: AgentConfig = { server: 'http://cider.example.com:4000', nodeId: 'n', nodeName: 'n', secret: 'cns_x-secret-123', ...keys, cacheDir: join(work, 'cache-insecure') };
    const refused = new Agent({ config: base, log });
    await expect(refused.start()).rejects.toThrow(/Use https:\/\/.*or pass --insecure/);
    // With insecure it starts (and only fails to connect, retrying in the background).
    const allowed = new Agent({ config: { ...base, server: 'http://192.0.2.1:9', insecure: true }, log, reconnectBaseMs: 10_000 });
    await expect(allowed.start()).resolves.toBeUndefined();
    await allowed.stop();
  });
});
