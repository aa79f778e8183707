// Two or three real agents (each with its own stand-in control plane, cache and peer server on its
// own 127.0.0.x) and the real registry: a sync dispatched with peers takes the image's layer
// from the peer that holds it and says so in sync.done's sources; a peer that serves bad bytes is
// reported with peer.bad and the image still lands verified; the agent asks for fresh candidates
// when its peers are used up.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pushImage, RegistryClient } from '@cider/oci';
import { startFaultProxy, writeRandomFile, type FaultProxy } from '@cider/oci/testing';
import { generateNodeKeyPair, issuePeerTicket, peerTicketPublicKey, peerTicketSigningKey, type PeerPlan } from '@cider/protocol';
import { uniqueRepository } from '@cider/services/testing';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { HostCache } from '@cider/oci';
import { Agent, piecesProgressOf } from '../agent.ts';
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
}

describe('agents feed each other', () => {
  let work: string;
  let proxy: FaultProxy;
  let client: RegistryClient;
  let digest: string;
  let reference: string;
  let layer: { digest: string; size: number };
  const nodes: Node[] = [];

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cider-agent-swarm-'));
    proxy = await startFaultProxy(inject('registryUrl'));
    client = new RegistryClient();
    const file = join(work, 'disk.img');
    await writeRandomFile(file, 12 * MiB + 77);
    const repository = uniqueRepository('agent-swarm');
    const pushed = await pushImage({
      client,
      repository: `${proxy.host}/${repository}`,
      files: [{ path: file, kind: 'disk' }],
      facts: { os: 'linux', architecture: 'amd64', platform: { os: 'linux', architecture: 'amd64' } },
      tags: ['v1'],
      pieceSize: MiB,
    });
    digest = pushed.digest;
    reference = `${proxy.host}/${repository}:v1`;
    const part = pushed.config.files[0]!.parts[0]!;
    layer = { digest: part.digest, size: part.size };
  });
  afterEach(async () => {
    for (const node of nodes.splice(0)) {
      await node.agent.stop();
      await node.control.close();
    }
  });
  afterAll(async () => {
    await client.close();
    await proxy.close();
    await rm(work, { recursive: true, force: true });
  });

  async function startNode(n: number, env: { tamper?: boolean } = {}): Promise<Node & { port: number }> {
    const id = randomUUID();
    const address = `127.0.0.${20 + n}`;
    const config: AgentConfig = { server: '', nodeId: id, nodeName: `mac-${n}`, secret: 'cns_first-secret-123', ...generateNodeKeyPair(), cacheDir: join(work, `${id}`) };
    const control = await startStubControl({ nodeId: id, secret: config.secret, peerTicketKey: peerTicketPublicKey(signing), heartbeatIntervalMs: 200 });
    config.server = control.url;
    const agent = new Agent({
      config,
      log,
      reconnectBaseMs: 50,
      reconnectMaxMs: 200,
      progressIntervalMs: 50,
      headroomBytes: MiB,
      peer: { host: address, port: 0, maxConcurrentUploads: 4, maxUploadBytesPerSecond: 0, ...(env.tamper ? { tamper: true } : {}) },
    });
    const node = { id, agent, control, address };
    nodes.push(node);
    await agent.start();
    const facts = (await control.waitFor('heartbeat', (m) => m.facts.peer !== undefined, 0, 10_000)).facts;
    return { ...node, port: facts.peer!.port };
  }

  function planFor(reader: string, servers: { id: string; address: string; port: number }[], origin = false): PeerPlan {
    return {
      origin,
      candidates: servers.map((s, i) => ({
        nodeId: s.id,
        name: `peer-${i}`,
        urls: [`http://${s.address}:${s.port}`],
        ticket: issuePeerTicket(signing, { reader, server: s.id, digest }),
        complete: true,
      })),
    };
  }

  const jobId = () => randomUUID();

  async function syncAndWait(node: Node, peers?: PeerPlan) {
    const id = jobId();
    node.control.send({ type: 'sync', jobId: id, digest, reference, registry: { host: proxy.host, plainHttp: true }, ...(peers ? { peers } : {}) });
    const done = node.control.waitFor('sync.done', (m) => m.jobId === id, 0, 60_000);
    const failed = node.control.waitFor('sync.failed', (m) => m.jobId === id, 0, 60_000).then((m) => {
      throw new Error(`sync failed: ${m.message}`);
    });
    return { id, done: await Promise.race([done, failed]) };
  }

  it('takes the layer from a peer that holds the image and reports bytes by source', async () => {
    const seeder = await startNode(1);
    await syncAndWait(seeder);

    const reader = await startNode(2);
    const { done } = await syncAndWait(reader, planFor(reader.id, [seeder]));
    expect(done.sources).toBeDefined();
    expect(done.sources!.peers[seeder.id]).toBe(layer.size);
    // What is left came from the registry: the manifest's config.
    expect(done.sources!.registry).toBe(done.bytesFetched - layer.size);
    expect(done.sources!.registry).toBeLessThan(64 * 1024);
    // The seeder says what it uploaded in its facts.
    const beat = await seeder.control.waitFor('heartbeat', (m) => (m.facts.peer?.uploadedBytes ?? 0) >= layer.size, 0, 10_000);
    expect(beat.facts.peer!.uploadedBytes).toBe(layer.size);
    expect(beat.facts.peer!.uploadsInFlight).toBe(0);
  });

  it('reports a peer that serves bad bytes, and still lands the image verified', async () => {
    const honest = await startNode(3);
    await syncAndWait(honest);
    const liar = await startNode(4, { tamper: true });
    await syncAndWait(liar);

    const reader = await startNode(5);
    const { id, done } = await syncAndWait(reader, planFor(reader.id, [liar, honest]));
    const bad = reader.control.received.filter((m) => m.type === 'peer.bad');
    expect(bad).toHaveLength(1);
    expect(bad[0]).toMatchObject({ type: 'peer.bad', jobId: id, nodeId: liar.id, digest: layer.digest });
    expect(done.sources!.peers[liar.id] ?? 0).toBe(0);
    expect((done.sources!.peers[honest.id] ?? 0) + done.sources!.registry).toBe(done.bytesFetched);
  });

  it('asks for fresh candidates when every peer refuses it', async () => {
    const seeder = await startNode(6);
    await syncAndWait(seeder);
    const reader = await startNode(7);
    // Tickets for another reader: the seeder refuses each request with 401.
    const plan = planFor(randomUUID(), [seeder]);
    const id = jobId();
    reader.control.send({ type: 'sync', jobId: id, digest, reference, registry: { host: proxy.host, plainHttp: true }, peers: plan });
    const renew = await reader.control.waitFor('peers.renew', (m) => m.jobId === id, 0, 30_000);
    expect(renew.jobId).toBe(id);
    // Answered with good tickets; the pull finishes either way (from the registry without them).
    reader.control.send({ type: 'peers', jobId: id, peers: planFor(reader.id, [seeder]) });
    const done = await reader.control.waitFor('sync.done', (m) => m.jobId === id, 0, 60_000);
    expect(done.sources!.registry + (done.sources!.peers[seeder.id] ?? 0)).toBe(done.bytesFetched);
  });

  it("reports which pieces of the layer it is fetching it has verified, for the tracker", async () => {
    const cache = await HostCache.open(join(work, `board-${randomUUID()}`));
    const blob = `sha256:${'a'.repeat(64)}`;
    expect(piecesProgressOf(cache, [blob])).toBeUndefined();
    const partial = cache.pieces.open(blob, 10 * MiB + 1, MiB, join(work, 'unused'));
    for (const i of [0, 1, 2, 9]) cache.pieces.markVerified(partial, i);
    const report = piecesProgressOf(cache, [`sha256:${'b'.repeat(64)}`, blob]);
    expect(report).toEqual({ digest: blob, done: 4, total: 11, bits: Buffer.from([0b11100000, 0b01000000]).toString('base64') });
    cache.pieces.close(partial);
    expect(piecesProgressOf(cache, [blob])).toBeUndefined();
  });
});
