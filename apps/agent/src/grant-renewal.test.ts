// A registry token that expires in the middle of a pull: a real docker-registry with token auth
// and our token server issuing one-second tokens. The agent holds only what the (stand-in)
// control plane sealed to it; when the registry refuses the token, the agent sends grant.renew,
// gets a fresh grant and finishes the pull. With no answer it gives up within its bound.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pushArtifact, RegistryClient } from '@cider/oci';
import { startFaultProxy, startTokenServer, writeRandomFile, type FaultProxy, type TokenServer } from '@cider/oci/testing';
import { generateNodeKeyPair, grantContext, sealBox, type RegistryAccess } from '@cider/protocol';
import { startRegistry, type RunningRegistry } from '@cider/services';
import { uniqueRepository } from '@cider/services/testing';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from './agent.ts';
import type { AgentConfig } from './config.ts';
import { startStubControl, type StubControl } from '../testing/stub-control.ts';

const MiB = 1024 * 1024;
const log = pino({ level: process.env.CIDER_TEST_LOG ?? 'silent' });
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('registry grants renewed mid-pull (docker-registry with token auth)', () => {
  let work: string;
  let tokens: TokenServer;
  let registry: RunningRegistry;
  let proxy: FaultProxy;
  let control: StubControl | undefined;
  let agent: Agent | undefined;
  const repository = uniqueRepository('grant');
  let digest: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cider-grant-'));
    tokens = await startTokenServer({ service: 'cider-test', issuer: 'cider-test-issuer', users: { control: { password: 'control-pw', actions: ['pull', 'push'] } } });
    registry = await startRegistry({ auth: tokens.registryAuth });
    proxy = await startFaultProxy(registry.url);
    const payload = join(work, 'payload.bin');
    await writeRandomFile(payload, 64 * MiB);
    const pusher = new RegistryClient({ credentials: { get: async () => ({ kind: 'basic', username: 'control', password: 'control-pw' }) } });
    try {
      digest = (await pushArtifact({ client: pusher, reference: `${registry.host}/${repository}:1`, files: [{ path: payload }] })).digest;
    } finally {
      await pusher.close();
    }
  });
  afterEach(async () => {
    await agent?.stop();
    agent = undefined;
    await control?.close();
    control = undefined;
    proxy.setRule(undefined);
    tokens.lifetimeS = 300;
    tokens.exactExpiry = false;
  });
  afterAll(async () => {
    await proxy?.close();
    await registry?.stop();
    await tokens?.close();
    await rm(work, { recursive: true, force: true });
  });

  /** What the control plane does for a grant: a pull-only token for the repository, sealed to the node for the job. */
  async function grantFor(config: AgentConfig, jobId: string): Promise<RegistryAccess> {
    const scope = `repository:${repository}:pull`;
    const response = await fetch(`${tokens.realm}?service=cider-test&scope=${encodeURIComponent(scope)}`, { headers: { authorization: basic('control', 'control-pw') } });
    const { token } = (await response.json()) as { token: string };
    const grant = { kind: 'bearer', token, expiresAt: new Date(Date.now() + tokens.lifetimeS * 1000).toISOString(), scope };
    return { host: proxy.host, plainHttp: true, grant: sealBox(config.publicKey, JSON.stringify(grant), grantContext(jobId)) };
  }

  async function start(cacheName: string, grantRenewTimeoutMs?: number): Promise<AgentConfig> {
    const config: AgentConfig = { server: '', nodeId: 'node-g', nodeName: 'g', secret: 'cns_grant-secret-1', ...generateNodeKeyPair(), cacheDir: join(work, cacheName) };
    control = await startStubControl({ nodeId: config.nodeId, secret: config.secret });
    config.server = control.url;
    agent = new Agent({ config, log, reconnectBaseMs: 50, progressIntervalMs: 50, headroomBytes: 0, grantRenewTimeoutMs });
    const connected = agent.whenConnected();
    await agent.start();
    await connected;
    return config;
  }

  it('asks for a new grant when the registry refuses the expired token, and finishes the pull with it', async () => {
    const config = await start('cache-renew');
    const jobId = '00000000-0000-4000-8000-000000000101';
    // One-second tokens, and segments slow enough that later ones start after it expired.
    tokens.lifetimeS = 1;
    tokens.exactExpiry = true;
    proxy.setRule((r) => (r.path.includes('/blobs/') ? { kind: 'throttle', bytesPerSecond: 6 * MiB } : undefined));
    const issuedBefore = tokens.requests.length;
    control!.send({ type: 'sync', jobId, digest, reference: `${proxy.host}/${repository}:1`, registry: await grantFor(config, jobId) });
    const renew = await control!.waitFor('grant.renew', (m) => m.jobId === jobId, 0);
    expect(renew).toEqual({ type: 'grant.renew', jobId });
    tokens.lifetimeS = 300;
    control!.send({ type: 'grant', jobId, registry: await grantFor(config, jobId) });
    const done = await control!.waitFor('sync.done', (m) => m.jobId === jobId, 0);
    expect(done.digest).toBe(digest);
    // Every token came through the control plane's grants; the agent asked the token service for none.
    expect(tokens.requests.slice(issuedBefore).map((r) => r.account)).toEqual(['control', 'control']);
    expect(control!.received.filter((m) => m.type === 'sync.failed')).toEqual([]);
  });

  it('gives up within its bound when no grant comes, failing the sync as unauthorized', async () => {
    const config = await start('cache-silent', 1_000);
    const jobId = '00000000-0000-4000-8000-000000000102';
    tokens.lifetimeS = 1;
    tokens.exactExpiry = true;
    proxy.setRule((r) => (r.path.includes('/blobs/') ? { kind: 'throttle', bytesPerSecond: 6 * MiB } : undefined));
    control!.send({ type: 'sync', jobId, digest, reference: `${proxy.host}/${repository}:1`, registry: await grantFor(config, jobId) });
    await control!.waitFor('grant.renew', (m) => m.jobId === jobId, 0);
    const failed = await control!.waitFor('sync.failed', (m) => m.jobId === jobId, 0);
    expect(failed.code).toBe('UNAUTHORIZED');
    expect(failed.retryable).toBe(false);
    expect(agent!.connected).toBe(true);
  });
});
