// The peer server as the agent runs it: started once a welcome brings the control plane's ticket
// key, reported in the facts (port and address), serving what the agent's own cache holds to a
// ticket the control plane's key signed, and closed when the agent stops. Off when not asked for.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostCache } from '@cider/oci';
import { generateNodeKeyPair, issuePeerTicket, peerTicketPublicKey, peerTicketSigningKey } from '@cider/protocol';
import pino from 'pino';
import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest';
import { Agent } from '../agent.ts';
import type { AgentConfig } from '../config.ts';
import { startStubControl, type StubControl } from '../../testing/stub-control.ts';

const log = pino({ level: process.env.CIDER_TEST_LOG ?? 'silent' });
const signing = peerTicketSigningKey(randomBytes(32));
const reader = '11111111-1111-4111-8111-111111111111';
const nodeId = '22222222-2222-4222-8222-222222222222';

describe('the agent serves its cache to peers', () => {
  let work: string;
  let control: StubControl | undefined;
  let agent: Agent | undefined;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cider-agent-peer-'));
  });
  afterEach(async () => {
    await agent?.stop();
    agent = undefined;
    await control?.close();
    control = undefined;
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  async function start(name: string, peer: boolean) {
    const cacheDir = join(work, name);
    const config: AgentConfig = { server: '', nodeId, nodeName: 'stub-node', secret: 'cns_first-secret-123', ...generateNodeKeyPair(), cacheDir };
    control = await startStubControl({ nodeId, secret: config.secret, peerTicketKey: peerTicketPublicKey(signing) });
    config.server = control.url;
    agent = new Agent({ config, log, reconnectBaseMs: 50, reconnectMaxMs: 200, ...(peer ? { peer: { host: '127.0.0.9', port: 0, maxConcurrentUploads: 2, maxUploadBytesPerSecond: 0 } } : {}) });
    const connected = agent.whenConnected();
    await agent.start();
    await connected;
    return { cacheDir };
  }

  it('starts with the welcome, says where in its facts, serves a held blob to a ticket, refuses one without, and stops with the agent', async () => {
    const { cacheDir } = await start('serving', true);
    const facts = (await control!.waitFor('heartbeat', (m) => m.facts.peer !== undefined, 0, 10_000)).facts;
    expect(facts.peer!.addresses).toEqual(['127.0.0.9']);
    const port = facts.peer!.port;
    expect(port).toBeGreaterThan(0);

    // A blob the agent's cache holds (put there verified, as a pull would).
    const bytes = randomBytes(256 * 1024);
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    const cache = await HostCache.open(cacheDir);
    await cache.putBlob(digest as `sha256:${string}`, bytes);

    const url = `http://127.0.0.9:${port}/v2/demo/macos/blobs/${digest}`;
    const ticket = issuePeerTicket(signing, { reader, server: nodeId, digest });
    const served = await fetch(url, { headers: { authorization: `Bearer ${ticket}`, range: 'bytes=1000-1999' } });
    expect(served.status).toBe(206);
    expect(Buffer.from(await served.arrayBuffer()).equals(bytes.subarray(1000, 2000))).toBe(true);
    expect((await fetch(url)).status).toBe(401);
    const otherKey = issuePeerTicket(peerTicketSigningKey(randomBytes(32)), { reader, server: nodeId, digest });
    expect((await fetch(url, { headers: { authorization: `Bearer ${otherKey}` } })).status).toBe(401);

    await agent!.stop();
    agent = undefined;
    await expect(fetch(url, { headers: { authorization: `Bearer ${ticket}` } })).rejects.toThrow();
  });

  it('serves nothing and reports no peer when not asked to (--no-peer)', async () => {
    await start('quiet', false);
    const beat = await control!.waitFor('heartbeat', () => true, 0, 10_000);
    expect(beat.facts.peer).toBeUndefined();
    expect(agent!.peer).toBeUndefined();
  });
});
