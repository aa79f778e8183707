// Peers and a mirror at once: real agents with peer servers, the real registry, and a
// docker-registry in proxy mode as the site's mirror, each registry behind a byte-counting proxy.
// The mirror stands where the registry would: the swarm takes from it the pieces no peer has, and
// the registry itself serves nothing.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pushImage, RegistryClient } from '@cider/oci';
import { startFaultProxy, writeRandomFile, type FaultProxy } from '@cider/oci/testing';
import { generateNodeKeyPair, issuePeerTicket, peerTicketPublicKey, peerTicketSigningKey, type AgentMessage, type PeerPlan, type RegistryAccess } from '@cider/protocol';
import { startRegistry, type RunningRegistry } from '@cider/services';
import { uniqueRepository } from '@cider/services/testing';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../agent.ts';
import type { AgentConfig } from '../config.ts';
import { startStubControl, type StubControl } from '../../testing/stub-control.ts';

const MiB = 1024 * 1024;
const log = pino({ level: process.env.CIDER_TEST_LOG ?? 'silent' });
const signing = peerTicketSigningKey(randomBytes(32));

interface Node {
  id: string;
  agent: Agent;
  control: StubControl;
  address: string;
  port: number;
}

describe('peers and a site mirror together (docker-registry in proxy mode)', () => {
  let work: string;
  let origin: RunningRegistry;
  let mirror: RunningRegistry;
  let toOrigin: FaultProxy;
  let toMirror: FaultProxy;
  let digest: string;
  let reference: string;
  let layer: { digest: string; size: number };
  const nodes: Node[] = [];

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cider-mirror-swarm-'));
    origin = await startRegistry();
    mirror = await startRegistry({ proxy: { remoteUrl: origin.url } });
    toOrigin = await startFaultProxy(origin.url);
    toMirror = await startFaultProxy(mirror.url);
    const file = join(work, 'disk.img');
    await writeRandomFile(file, 6 * MiB + 77);
    const repository = uniqueRepository('mirror-swarm');
    const client = new RegistryClient();
    try {
      const pushed = await pushImage({
        client,
        repository: `${origin.host}/${repository}`,
        files: [{ path: file, kind: 'disk' }],
        facts: { os: 'linux', architecture: 'amd64', platform: { os: 'linux', architecture: 'amd64' } },
        tags: ['v1'],
        pieceSize: MiB,
      });
      digest = pushed.digest;
      const part = pushed.config.files[0]!.parts[0]!;
      layer = { digest: part.digest, size: part.size };
    } finally {
      await client.close();
    }
    reference = `${toOrigin.host}/${repository}:v1`;
  });
  afterEach(async () => {
    for (const node of nodes.splice(0)) {
      await node.agent.stop();
      await node.control.close();
    }
  });
  afterAll(async () => {
    await toOrigin?.close();
    await toMirror?.close();
    await mirror?.stop();
    await origin?.stop();
    await rm(work, { recursive: true, force: true });
  });

  async function startNode(n: number): Promise<Node> {
    const id = randomUUID();
    const address = `127.0.0.${40 + n}`;
    const config: AgentConfig = { server: '', nodeId: id, nodeName: `mac-${n}`, secret: 'cns_first-secret-123', ...generateNodeKeyPair(), cacheDir: join(work, id) };
    const control = await startStubControl({ nodeId: id, secret: config.secret, peerTicketKey: peerTicketPublicKey(signing), heartbeatIntervalMs: 200 });
    config.server = control.url;
    const agent = new Agent({ config, log, reconnectBaseMs: 50, reconnectMaxMs: 200, progressIntervalMs: 50, headroomBytes: MiB, peer: { host: address, port: 0, maxConcurrentUploads: 4, maxUploadBytesPerSecond: 0 } });
    const node = { id, agent, control, address, port: 0 };
    nodes.push(node);
    await agent.start();
    node.port = (await control.waitFor('heartbeat', (m) => m.facts.peer !== undefined, 0, 10_000)).facts.peer!.port;
    return node;
  }

  const planFor = (reader: string, servers: Node[], isOrigin = false): PeerPlan => ({
    origin: isOrigin,
    candidates: servers.map((s, i) => ({ nodeId: s.id, name: `peer-${i}`, urls: [`http://${s.address}:${s.port}`], ticket: issuePeerTicket(signing, { reader, server: s.id, digest }), complete: true })),
  });

  async function sync(node: Node, extra: { peers?: PeerPlan; mirror?: RegistryAccess } = {}): Promise<Extract<AgentMessage, { type: 'sync.done' }>> {
    const jobId = randomUUID();
    node.control.send({ type: 'sync', jobId, digest, reference, registry: { host: toOrigin.host, plainHttp: true }, ...extra });
    const failed = node.control.waitFor('sync.failed', (m) => m.jobId === jobId, 0, 60_000).then((m) => Promise.reject(new Error(`sync failed: ${m.message}`)));
    return Promise.race([node.control.waitFor('sync.done', (m) => m.jobId === jobId, 0, 60_000), failed]);
  }

  it('takes the layer from a peer and the rest from the mirror, nothing from the registry', async () => {
    const seeder = await startNode(1);
    await sync(seeder);
    const reader = await startNode(2);
    const before = toOrigin.blobBytesServed;
    const done = await sync(reader, { peers: planFor(reader.id, [seeder]), mirror: { host: toMirror.host, plainHttp: true } });
    expect(done.sources).toEqual({ registry: 0, mirror: done.bytesFetched - layer.size, peers: { [seeder.id]: layer.size } });
    expect(done.sources!.mirror).toBeGreaterThan(0);
    expect(toOrigin.blobBytesServed - before).toBe(0);
  });

  it('as an origin with no peers, takes every piece from the mirror', async () => {
    const reader = await startNode(3);
    const before = { origin: toOrigin.blobBytesServed, mirror: toMirror.blobBytesServed };
    const done = await sync(reader, { peers: planFor(reader.id, [], true), mirror: { host: toMirror.host, plainHttp: true } });
    expect(done.sources).toEqual({ registry: 0, mirror: done.bytesFetched, peers: {} });
    expect(done.bytesFetched).toBeGreaterThanOrEqual(layer.size);
    expect(toOrigin.blobBytesServed - before.origin).toBe(0);
    expect(toMirror.blobBytesServed - before.mirror).toBeGreaterThanOrEqual(layer.size);
  });
});
