// Pulling from peers and the registry at once (issue 10, item 3), with real parts: a real
// registry behind a fault proxy (which counts the registry's blob bytes and can slow it), real
// peer servers over real caches, and the HTTP peer client. Each test checks where the bytes came
// from, that every byte in the cache verified, and what a bad or dying peer costs.
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HostCache, PeerClient, pull, pushImage, type PeerLink, type PullResult, type SwarmOptions } from '@cider/oci';
import { useRegistryFixture, writeRandomFile } from '@cider/oci/testing';
import { issuePeerTicket, peerTicketPublicKey, peerTicketSigningKey } from '@cider/protocol';
import { uniqueRepository } from '@cider/services/testing';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startPeerServer, type PeerServer, type PeerServerOptions } from './server.ts';

const MiB = 1024 * 1024;
const signing = peerTicketSigningKey(randomBytes(32));
const publicKey = peerTicketPublicKey(signing);
const quiet = { debug: () => {}, warn: () => {} };

/** Byte for byte (toEqual on 24 MiB Buffers walks every index: far too slow). */
async function sameBlob(a: HostCache, b: HostCache, digest: string): Promise<boolean> {
  return (await readFile(a.blobPath(digest))).equals(await readFile(b.blobPath(digest)));
}

describe('pulling pieces from peers', () => {
  const fixture = useRegistryFixture('swarm');
  const host = () => new URL(fixture.proxy.url).host;
  let reference: string;
  let image: string;
  let layer: { digest: string; size: number };
  let configSize: number;
  const servers: PeerServer[] = [];
  const clients: PeerClient[] = [];

  beforeAll(async () => {
    const path = join(fixture.work, 'disk.img');
    await writeRandomFile(path, 24 * MiB + 4321);
    const repository = uniqueRepository('swarm');
    const pushed = await pushImage({
      client: fixture.client,
      repository: `${host()}/${repository}`,
      files: [{ path, kind: 'disk' }],
      facts: { os: 'linux', architecture: 'amd64', platform: { os: 'linux', architecture: 'amd64' } },
      tags: ['v1'],
      pieceSize: 1 * MiB,
    });
    image = pushed.digest;
    reference = `${host()}/${repository}@${image}`;
    const part = pushed.config.files[0]!.parts[0]!;
    layer = { digest: part.digest, size: part.size };
    configSize = pushed.manifest.config.size;
    expect(part.pieces).toHaveLength(25);
  });

  afterEach(async () => {
    for (const server of servers.splice(0)) await server.close();
    for (const client of clients.splice(0)) client.close();
  });

  const cacheNamed = (name: string) => HostCache.open(join(fixture.work, `${name}-${randomUUID()}`));

  /** A node serving its cache, with the blobs of the image admitted under the image's ticket. */
  async function serve(cache: HostCache, options: Partial<PeerServerOptions> = {}) {
    const nodeId = randomUUID();
    const server = await startPeerServer({
      cache,
      nodeId,
      publicKey,
      host: '127.0.0.1',
      port: 0,
      maxConcurrentUploads: 4,
      maxUploadBytesPerSecond: 0,
      log: quiet,
      imageBlobs: async (digest) => (digest === image ? new Set([layer.digest]) : undefined),
      ...options,
    });
    servers.push(server);
    return { nodeId, server };
  }

  function peerOf(served: { nodeId: string; server: PeerServer }, reader: string): PeerClient {
    const ticket = issuePeerTicket(signing, { reader, server: served.nodeId, digest: image });
    const client = new PeerClient({ id: served.nodeId, name: `peer-${served.server.port}`, urls: [`http://127.0.0.1:${served.server.port}`], ticket, readerId: reader });
    clients.push(client);
    return client;
  }

  /** Pulls through the registry fixture with the given peers; records bytes per source and bad peers. */
  async function pullWith(cache: HostCache, peers: () => readonly PeerLink[], swarm: Partial<SwarmOptions> = {}) {
    const bySource = new Map<string, number>();
    const bad: { peer: string; reason: string }[] = [];
    const result: PullResult = await pull({
      client: fixture.client,
      cache,
      reference,
      materialize: false,
      swarm: {
        peers,
        origin: false,
        stallMs: 2_000,
        pollMs: 100,
        onSourceBytes: (source, bytes) => {
          const key = source === 'registry' ? 'registry' : source.id;
          bySource.set(key, (bySource.get(key) ?? 0) + bytes);
        },
        onBadPeer: (peer, _digest, reason) => bad.push({ peer: peer.id, reason }),
        ...swarm,
      },
    });
    return { result, bySource, bad };
  }


  it('lands a large layer from the registry alone (an origin with no peers yet), its whole digest taken after every piece', async () => {
    // The whole-blob hash runs on a worker thread above 16 MiB, and advances in flight are
    // coalesced: asking for the digest before they are all answered hashed part of the blob
    // (a DIGEST_MISMATCH on most pulls of this size).
    const path = join(fixture.work, 'large.img');
    await writeRandomFile(path, 96 * MiB);
    const repository = uniqueRepository('swarm-large');
    const pushed = await pushImage({
      client: fixture.client,
      repository: `${host()}/${repository}`,
      files: [{ path, kind: 'disk' }],
      facts: { os: 'linux', architecture: 'amd64', platform: { os: 'linux', architecture: 'amd64' } },
      tags: ['v1'],
      pieceSize: 4 * MiB,
    });
    const large = pushed.config.files[0]!.parts[0]!;
    for (let i = 0; i < 3; i++) {
      const cache = await cacheNamed(`large-${i}`);
      let fromRegistry = 0;
      await pull({ client: fixture.client, cache, reference: `${host()}/${repository}@${pushed.digest}`, materialize: false, swarm: { peers: () => [], origin: true, onSourceBytes: (source, bytes) => (fromRegistry += source === 'registry' ? bytes : 0) } });
      expect(fromRegistry).toBe(large.size);
      expect(await cache.hasBlob(large.digest)).toBe(true);
    }
  });

  it('takes every piece of a layer from a peer that holds it, none from the registry', async () => {
    const seeder = await cacheNamed('seeder');
    await pull({ client: fixture.client, cache: seeder, reference, materialize: false });
    const served = await serve(seeder);
    const registryBefore = fixture.proxy.blobBytesServed;

    const reader = randomUUID();
    const leecher = await cacheNamed('leecher');
    const { bySource, bad } = await pullWith(leecher, () => [peerOf(served, reader)]);

    expect(bad).toEqual([]);
    expect(bySource.get(served.nodeId)).toBe(layer.size);
    expect(bySource.get('registry') ?? 0).toBe(0);
    // The registry served the config alone (manifests and config always come from it).
    expect(fixture.proxy.blobBytesServed - registryBefore).toBe(configSize);
    expect(served.server.stats().bytesByDigest[layer.digest]).toBe(layer.size);
    expect(await sameBlob(leecher, seeder, layer.digest)).toBe(true);
  });

  it('serves the verified pieces of a download still in progress, and only those', async () => {
    // The first node pulls slowly from the registry (1 connection at 4 MiB/s) and serves as it goes.
    fixture.proxy.setRule((request) => (request.method === 'GET' && request.path.includes('/blobs/') ? { kind: 'throttle', bytesPerSecond: 4 * MiB } : undefined));
    const first = await cacheNamed('first');
    const served = await serve(first);
    const firstPull = pullWith(first, () => [], { origin: true, registryConnections: 2 });

    // Wait until it has verified a few pieces; check that a range over an unverified piece is refused.
    const reader = randomUUID();
    const peer = peerOf(served, reader);
    const deadline = Date.now() + 20_000;
    let held: Awaited<ReturnType<PeerLink['pieces']>>;
    for (;;) {
      held = await peer.pieces(layer.digest as `sha256:${string}`);
      if (held && held !== 'all' && held.bits.some((b) => b !== 0)) break;
      if (Date.now() > deadline) throw new Error('no verified piece in 20 s');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(held).not.toBe('all');
    const bits = (held as { bits: Uint8Array }).bits;
    const missing = [...Array(25).keys()].find((i) => (bits[i >> 3]! & (0x80 >> (i & 7))) === 0)!;
    await expect(peer.fetchBlob(layer.digest as `sha256:${string}`, { offset: missing * MiB, end: missing * MiB + 10 })).rejects.toMatchObject({ code: 'NOT_FOUND' });

    // A second node, not an origin, fed by the first while it downloads: nothing from the registry.
    fixture.proxy.requests.length = 0;
    const second = await cacheNamed('second');
    const { bySource, bad } = await pullWith(second, () => [peer], { stallMs: 60_000 });
    await firstPull;
    expect(bad).toEqual([]);
    expect(bySource.get(served.nodeId)).toBe(layer.size);
    expect(bySource.get('registry') ?? 0).toBe(0);
    expect(await sameBlob(second, first, layer.digest)).toBe(true);
  });

  it('drops a peer that serves bad pieces, reports it, and gets the pieces elsewhere', async () => {
    const honest = await cacheNamed('honest');
    await pull({ client: fixture.client, cache: honest, reference, materialize: false });
    const good = await serve(honest);
    const liar = await serve(honest, { tamper: true });

    const reader = randomUUID();
    const leecher = await cacheNamed('tampered');
    const peers = [peerOf(liar, reader), peerOf(good, reader)];
    const { bySource, bad } = await pullWith(leecher, () => peers);

    expect(bad.map((b) => b.peer)).toEqual([liar.nodeId]);
    expect(bad[0]!.reason).toMatch(/hashed to sha256:[0-9a-f]{64}, not sha256:/);
    expect(bySource.get(liar.nodeId) ?? 0).toBe(0);
    expect((bySource.get(good.nodeId) ?? 0) + (bySource.get('registry') ?? 0)).toBe(layer.size);
    expect(await sameBlob(leecher, honest, layer.digest)).toBe(true);
  });

  it('resumes a download stopped midway: the verified pieces on disk are kept (hashed again), the rest is fetched', async () => {
    const seeder = await cacheNamed('resume-seeder');
    await pull({ client: fixture.client, cache: seeder, reference, materialize: false });
    // 4 MiB/s from the peer: stopped after ~1.5 s, with several whole pieces written.
    const served = await serve(seeder, { maxUploadBytesPerSecond: 4 * MiB });
    const reader = randomUUID();
    const leecher = await cacheNamed('resumer');
    const stop = new AbortController();
    setTimeout(() => stop.abort(new Error('killed')), 1_500);
    const peer = peerOf(served, reader);
    const first = new Map<string, number>();
    await expect(
      pull({ client: fixture.client, cache: leecher, reference, materialize: false, signal: stop.signal, swarm: { peers: () => [peer], origin: false, stallMs: 60_000, pollMs: 100, onSourceBytes: (s, b) => first.set(s === 'registry' ? 'registry' : s.id, (first.get(s === 'registry' ? 'registry' : s.id) ?? 0) + b) } }),
    ).rejects.toThrow('killed');
    const kept = first.get(served.nodeId) ?? 0;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(layer.size);
    expect(await leecher.hasBlob(layer.digest)).toBe(false);

    // Started again (a new process would do the same: the journal and data are on disk).
    let resumedBytes = 0;
    const { bySource } = await pullWith(leecher, () => [peerOf(served, reader)], { stallMs: 60_000 });
    for (const bytes of bySource.values()) resumedBytes += bytes;
    // Only what was not verified before came over the network again.
    expect(resumedBytes).toBeLessThanOrEqual(layer.size - kept);
    expect(resumedBytes).toBeGreaterThan(0);
    expect(await sameBlob(leecher, seeder, layer.digest)).toBe(true);
  });

  it('goes on from the registry when its only peer dies mid-transfer', async () => {
    const seeder = await cacheNamed('dying');
    await pull({ client: fixture.client, cache: seeder, reference, materialize: false });
    // 2 MiB/s: the transfer takes ~12 s, and the peer is closed after ~2 s.
    const served = await serve(seeder, { maxUploadBytesPerSecond: 2 * MiB });
    const reader = randomUUID();
    const leecher = await cacheNamed('orphan');
    let needed = 0;
    setTimeout(() => void served.server.close(), 2_000);
    const { bySource, bad } = await pullWith(leecher, () => [peerOf(served, reader)], { stallMs: 1_000, onPeersNeeded: () => needed++ });

    expect(bad).toEqual([]);
    const fromPeer = bySource.get(served.nodeId) ?? 0;
    expect(fromPeer).toBeGreaterThan(0);
    expect(fromPeer).toBeLessThan(layer.size);
    expect(fromPeer + (bySource.get('registry') ?? 0)).toBe(layer.size);
    expect(needed).toBeGreaterThan(0);
    expect(await sameBlob(leecher, seeder, layer.digest)).toBe(true);
  });

  it('refuses a ticket for another image, and the reader falls back to the registry', async () => {
    const seeder = await cacheNamed('strict');
    await pull({ client: fixture.client, cache: seeder, reference, materialize: false });
    const served = await serve(seeder);
    const reader = randomUUID();
    const wrong = issuePeerTicket(signing, { reader, server: served.nodeId, digest: `sha256:${'0'.repeat(64)}` });
    const peer = new PeerClient({ id: served.nodeId, name: 'strict', urls: [`http://127.0.0.1:${served.server.port}`], ticket: wrong, readerId: reader });
    clients.push(peer);
    await expect(peer.fetchBlob(layer.digest as `sha256:${string}`, { offset: 0, end: 9 })).rejects.toMatchObject({ code: 'UNAUTHORIZED' });

    const leecher = await cacheNamed('strict-reader');
    const { bySource } = await pullWith(leecher, () => [peer], { stallMs: 500 });
    expect(bySource.get(served.nodeId) ?? 0).toBe(0);
    expect(bySource.get('registry')).toBe(layer.size);
  });

  it('cider pull --peer reads the layer from a peer with a ticket (for testing)', async () => {
    const seeder = await cacheNamed('cli-seeder');
    await pull({ client: fixture.client, cache: seeder, reference, materialize: false });
    const served = await serve(seeder);
    const reader = randomUUID();
    const ticket = issuePeerTicket(signing, { reader, server: served.nodeId, digest: image });
    const peerUrl = `http://127.0.0.1:${served.server.port}`;
    const cacheDir = join(fixture.work, `cli-${randomUUID()}`);
    const entry = fileURLToPath(new URL('../../../cli/src/cider.ts', import.meta.url));
    const run = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', entry, '--json', 'pull', reference, '--cache', cacheDir, '--no-materialize', '--peer', `${peerUrl}=${ticket}`, '--peers-only'], { env: process.env });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { digest: string; sources: Record<string, number> };
    expect(result.digest).toBe(image);
    expect(result.sources[`127.0.0.1:${served.server.port}`]).toBe(layer.size);
    expect(result.sources.registry ?? 0).toBe(0);
    expect(await sameBlob(await HostCache.open(cacheDir), seeder, layer.digest)).toBe(true);

    // A malformed --peer is refused with the form to use.
    const bad = await new Promise<string>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', entry, 'pull', reference, '--cache', cacheDir, '--peer', 'nonsense'], { env: process.env });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', () => resolve(stderr));
    });
    expect(bad).toMatch(/use http:\/\/host:port=<peer ticket>/);
  });
});
