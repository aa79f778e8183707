// Registry mirrors: a real docker-registry in proxy mode (a pull-through cache of the test
// registry) as the site's mirror, each behind a byte-counting fault proxy. A sync with a mirror
// takes every blob byte through it and says so in sync.done's sources; a dead mirror, one that
// answers 500 or one that serves corrupt bytes leaves the pull to the registry, which still
// verifies and completes it.
import { access, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pushArtifact, RegistryClient } from '@cider/oci';
import { startFaultProxy, writeHtpasswd, writeRandomFile, type FaultProxy } from '@cider/oci/testing';
import { generateNodeKeyPair, grantContext, mirrorGrantContext, sealBox, type AgentMessage, type RegistryAccess } from '@cider/protocol';
import { freePort, startRegistry, type RunningRegistry } from '@cider/services';
import { uniqueRepository } from '@cider/services/testing';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { Agent } from './agent.ts';
import type { AgentConfig } from './config.ts';
import { startStubControl, type StubControl } from '../testing/stub-control.ts';

const MiB = 1024 * 1024;
const log = pino({ level: process.env.CIDER_TEST_LOG ?? 'silent' });

describe('registry mirror (docker-registry in proxy mode in front of a real registry)', () => {
  let work: string;
  let origin: RunningRegistry;
  let mirror: RunningRegistry;
  /** Another pull-through cache of the registry, which wants a password. */
  let lockedMirror: RunningRegistry;
  /** The agent's way to the registry and to the mirror: each counts the blob bytes it serves. */
  let toOrigin: FaultProxy;
  let toMirror: FaultProxy;
  let control: StubControl | undefined;
  let agent: Agent | undefined;
  const repository = uniqueRepository('mirror');
  let digest: string;
  let blobBytes: number;
  let layerDigest: string;
  let jobs = 0;
  /** Blob bytes each proxy served in the last syncThrough. */
  let served = { origin: 0, mirror: 0 };

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cider-mirror-'));
    origin = await startRegistry();
    // The mirror fetches from the registry directly: only the agent's own reads pass the counting proxies.
    mirror = await startRegistry({ proxy: { remoteUrl: origin.url } });
    await writeHtpasswd(join(work, 'htpasswd'), { robot: 'mirror-pw' });
    lockedMirror = await startRegistry({ proxy: { remoteUrl: origin.url }, auth: { kind: 'htpasswd', htpasswdFile: join(work, 'htpasswd') } });
    toOrigin = await startFaultProxy(origin.url);
    toMirror = await startFaultProxy(mirror.url);
    const payload = join(work, 'payload.bin');
    await writeRandomFile(payload, 12 * MiB);
    const pusher = new RegistryClient();
    try {
      const pushed = await pushArtifact({ client: pusher, reference: `${origin.host}/${repository}:1`, files: [{ path: payload }] });
      digest = pushed.digest;
      const manifest = JSON.parse((await pusher.repositoryOf(`${origin.host}/${repository}`).fetchManifest(digest)).bytes.toString()) as { config: { size: number }; layers: { digest: string; size: number }[] };
      blobBytes = manifest.config.size + manifest.layers.reduce((sum, l) => sum + l.size, 0);
      layerDigest = manifest.layers[0]!.digest;
    } finally {
      await pusher.close();
    }
  });
  beforeEach(() => {
    toOrigin.setRule(undefined);
    toMirror.setRule(undefined);
  });
  afterEach(async () => {
    await agent?.stop();
    agent = undefined;
    await control?.close();
    control = undefined;
  });
  afterAll(async () => {
    await toOrigin?.close();
    await toMirror?.close();
    await mirror?.stop();
    await lockedMirror?.stop();
    await origin?.stop();
    await rm(work, { recursive: true, force: true });
  });

  async function start(): Promise<AgentConfig> {
    const config: AgentConfig = { server: '', nodeId: 'node-m', nodeName: 'm', secret: 'cns_mirror-secret-1', ...generateNodeKeyPair(), cacheDir: join(work, `cache-${jobs}`) };
    control = await startStubControl({ nodeId: config.nodeId, secret: config.secret });
    config.server = control.url;
    agent = new Agent({ config, log, reconnectBaseMs: 50, progressIntervalMs: 50, headroomBytes: 0 });
    const connected = agent.whenConnected();
    await agent.start();
    await connected;
    return config;
  }

  /** Syncs the image with `mirrorAccess` as the dispatch's mirror and returns sync.done. */
  async function syncThrough(
    mirrorAccess: RegistryAccess | ((config: AgentConfig, jobId: string) => RegistryAccess),
    options: { whole?: boolean } = {},
  ): Promise<Extract<AgentMessage, { type: 'sync.done' }>> {
    const config = await start();
    const jobId = `00000000-0000-4000-8000-${String(++jobs).padStart(12, '0')}`;
    if (typeof mirrorAccess === 'function') mirrorAccess = mirrorAccess(config, jobId);
    const servedBefore = { origin: toOrigin.blobBytesServed, mirror: toMirror.blobBytesServed };
    control!.send({ type: 'sync', jobId, digest, reference: `${toOrigin.host}/${repository}:1`, registry: { host: toOrigin.host, plainHttp: true }, mirror: mirrorAccess });
    const done = await Promise.race([
      control!.waitFor('sync.done', (m) => m.jobId === jobId, 0),
      control!.waitFor('sync.failed', (m) => m.jobId === jobId, 0).then((m) => Promise.reject(new Error(`sync failed: ${m.message}`))),
    ]);
    expect(done.digest).toBe(digest);
    if (options.whole !== false) expect(done.bytesFetched).toBe(blobBytes);
    served = { origin: toOrigin.blobBytesServed - servedBefore.origin, mirror: toMirror.blobBytesServed - servedBefore.mirror };
    return done;
  }

  it('pulls every blob through the mirror, which fetches and keeps them, and reports the bytes as the mirror\'s', async () => {
    const done = await syncThrough({ host: toMirror.host, plainHttp: true });
    expect(done.sources).toEqual({ registry: 0, mirror: blobBytes, peers: {} });
    expect(served).toEqual({ origin: 0, mirror: blobBytes });
    // The mirror asked for the manifest and blobs by the registry's repository name.
    expect(toMirror.requests.some((r) => r.path === `/v2/${repository}/manifests/${digest}`)).toBe(true);
    expect(toOrigin.requests).toEqual([]);
    // It is a real pull-through cache: the layer lands in its own storage (committed as it finishes
    // streaming it, so a moment after the agent has it).
    const hex = layerDigest.slice('sha256:'.length);
    await vi.waitFor(() => access(join(mirror.storageDir, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data')), { timeout: 10_000, interval: 50 });
  });

  it('falls back to the registry when nothing listens at the mirror', async () => {
    const deadPort = await freePort();
    const done = await syncThrough({ host: `127.0.0.1:${deadPort}`, plainHttp: true });
    expect(done.sources).toEqual({ registry: blobBytes, mirror: 0, peers: {} });
    expect(served.origin).toBe(blobBytes);
  });

  it('falls back to the registry when the mirror answers 500', async () => {
    toMirror.setRule(() => ({ kind: 'status', status: 500, body: 'mirror broken' }));
    const done = await syncThrough({ host: toMirror.host, plainHttp: true });
    expect(done.sources).toEqual({ registry: blobBytes, mirror: 0, peers: {} });
    expect(served).toEqual({ origin: blobBytes, mirror: 0 });
    expect(toMirror.requests.length).toBeGreaterThan(0);
  });

  it('falls back to the registry when the mirror does not have the repository (404)', async () => {
    toMirror.setRule((r) => (r.path.includes('/manifests/') ? { kind: 'status', status: 404, body: '{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}', headers: { 'content-type': 'application/json' } } : undefined));
    const done = await syncThrough({ host: toMirror.host, plainHttp: true });
    expect(done.sources).toEqual({ registry: blobBytes, mirror: 0, peers: {} });
    expect(served.origin).toBe(blobBytes);
  });

  it('verifies what the mirror sends: a corrupted layer is fetched again from the registry and the image is intact', async () => {
    toMirror.setRule((r) => (r.path.includes(`/blobs/${layerDigest}`) ? { kind: 'flip-byte', at: 1000 } : undefined));
    const done = await syncThrough({ host: toMirror.host, plainHttp: true }, { whole: false });
    // The config came from the mirror and was kept; the layer came again, from the registry, and only it counts.
    expect(served.origin).toBeGreaterThanOrEqual(12 * MiB);
    expect(done.bytesFetched).toBeGreaterThanOrEqual(12 * MiB);
    expect(done.sources).toEqual({ registry: done.bytesFetched, mirror: 0, peers: {} });
    const image = (await agent!.inventory()).find((i) => i.digest === digest);
    expect(image?.sizeBytes).toBe(blobBytes);
    expect(control!.received.filter((m) => m.type === 'sync.failed')).toEqual([]);
  });

  it('opens the mirror grant sealed to the node for this job, and pulls through a mirror that wants a password', async () => {
    const before = await lockedMirrorBlobs();
    const done = await syncThrough((config, jobId) => ({
      host: lockedMirror.host,
      plainHttp: true,
      grant: sealBox(config.publicKey, JSON.stringify({ kind: 'basic', username: 'robot', password: 'mirror-pw' }), mirrorGrantContext(jobId)),
    }));
    expect(done.sources).toEqual({ registry: 0, mirror: blobBytes, peers: {} });
    expect(served.origin).toBe(0);
    await vi.waitFor(async () => expect(await lockedMirrorBlobs()).toBeGreaterThan(before), { timeout: 10_000, interval: 50 });
  });

  it("refuses a mirror grant sealed as the registry's, and pulls from the registry", async () => {
    const done = await syncThrough((config, jobId) => ({
      host: lockedMirror.host,
      plainHttp: true,
      grant: sealBox(config.publicKey, JSON.stringify({ kind: 'basic', username: 'robot', password: 'mirror-pw' }), grantContext(jobId)),
    }));
    expect(done.sources).toEqual({ registry: blobBytes, mirror: 0, peers: {} });
    expect(served.origin).toBe(blobBytes);
  });

  it('falls back to the registry when the mirror refuses the credentials', async () => {
    const done = await syncThrough((config, jobId) => ({
      host: lockedMirror.host,
      plainHttp: true,
      grant: sealBox(config.publicKey, JSON.stringify({ kind: 'basic', username: 'robot', password: 'wrong' }), mirrorGrantContext(jobId)),
    }));
    expect(done.sources).toEqual({ registry: blobBytes, mirror: 0, peers: {} });
    expect(served.origin).toBe(blobBytes);
  });

  /** Blobs the password-protected mirror keeps in its storage. */
  async function lockedMirrorBlobs(): Promise<number> {
    const root = join(lockedMirror.storageDir, 'docker/registry/v2/blobs/sha256');
    let count = 0;
    for (const prefix of await readdir(root).catch(() => [])) count += (await readdir(join(root, prefix))).length;
    return count;
  }
});
