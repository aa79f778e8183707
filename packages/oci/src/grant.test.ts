// Short-lived pull grants (issue 9, item 4) against real docker-registries: one with token auth
// from our token server, one with htpasswd (Basic), and the run's anonymous one. The control
// plane's side: pullGrant. The agent's side: a registry token that expires mid-pull is renewed
// through the credential store's refresh, once, and the pull carries on.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRegistry, type RunningRegistry } from '@cider/services';
import { uniqueRepository } from '@cider/services/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { HostCache } from './cache/cache.ts';
import { UnauthorizedError } from './errors.ts';
import { RenewableCredential, StaticCredentials, type Credential } from './http/credentials.ts';
import { pull } from './pull.ts';
import { digestFile, pushArtifact } from './push.ts';
import { RegistryClient } from './registry/client.ts';
import type { PullGrant } from './registry/grant.ts';
import { startFaultProxy, startTokenServer, writeHtpasswd, writeRandomFile, type FaultProxy, type TokenServer } from '../testing/index.ts';

const fastRetry = { retries: 1, baseDelayMs: 10, maxDelayMs: 20 };
const alice: Credential = { kind: 'basic', username: 'alice', password: 'alice-pw' };

function clientAs(host: string, credential?: Credential): RegistryClient {
  return new RegistryClient({ credentials: new StaticCredentials(credential ? { [host]: credential } : {}), retry: fastRetry });
}

function bearer(grant: PullGrant): Extract<PullGrant, { kind: 'bearer' }> {
  expect(grant.kind).toBe('bearer');
  return grant as Extract<PullGrant, { kind: 'bearer' }>;
}

describe('pull grants', () => {
  let work: string;
  let payload: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cider-grant-'));
    payload = join(work, 'payload.bin');
    await writeRandomFile(payload, 3 * 1024 * 1024 + 17);
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  describe('token auth: docker-registry and our token server', () => {
    let tokens: TokenServer;
    let registry: RunningRegistry;
    let control: RegistryClient;
    const repository = uniqueRepository('grant');
    let reference: string;

    beforeAll(async () => {
      tokens = await startTokenServer({ service: 'cider-grant', issuer: 'cider-grant-issuer', users: { alice: { password: 'alice-pw', actions: ['pull', 'push', 'delete'] } } });
      registry = await startRegistry({ auth: tokens.registryAuth });
      control = clientAs(registry.host, alice);
      reference = `${registry.host}/${repository}:v1`;
      await pushArtifact({ client: control, reference, files: [{ path: payload }] });
    });
    afterAll(async () => {
      await control?.close();
      await registry?.stop();
      await tokens?.close();
    });
    beforeEach(() => {
      tokens.lifetimeS = 300;
      tokens.exactExpiry = false;
    });

    it('issues a token for pulling that one repository, asking the token service for nothing more', async () => {
      const before = tokens.requests.length;
      const started = Date.now();
      const grant = bearer(await control.pullGrant(registry.host, repository));
      expect(grant.scope).toBe(`repository:${repository}:pull`);
      expect(tokens.requests.slice(before)).toEqual([{ method: 'GET', account: 'alice', scopes: [`repository:${repository}:pull`], granted: [`${repository}:pull`], status: 200 }]);
      const expires = Date.parse(grant.expiresAt);
      expect(new Date(expires).toISOString()).toBe(grant.expiresAt);
      expect(expires).toBeGreaterThanOrEqual(started + 299_000);
      expect(expires).toBeLessThanOrEqual(Date.now() + 300_000);

      // The agent's side: the grant pulls, and it cannot push.
      const agent = clientAs(registry.host, { kind: 'registry-token', token: grant.token });
      try {
        const cache = await HostCache.open(await mkdtemp(join(work, 'cache-')));
        await pull({ client: agent, cache, reference, materialize: false });
        const { digest } = await digestFile(payload);
        expect((await readFile(cache.blobPath(digest))).equals(await readFile(payload))).toBe(true);
        const refused = await pushArtifact({ client: agent, reference: `${registry.host}/${repository}:v2`, files: [{ path: payload }] }).catch((e: unknown) => e);
        expect(refused).toBeInstanceOf(UnauthorizedError);
        const other = await pull({ client: agent, cache, reference: `${registry.host}/${uniqueRepository('grant')}:v1`, materialize: false }).catch((e: unknown) => e);
        expect(other).toBeInstanceOf(UnauthorizedError);
      } finally {
        await agent.close();
      }
    });

    it('says anonymous when no credential is stored (the agent asks the token service itself)', async () => {
      const anonymousControl = clientAs(registry.host);
      const before = tokens.requests.length;
      try {
        expect(await anonymousControl.pullGrant(registry.host, repository)).toEqual({ kind: 'anonymous' });
        expect(tokens.requests.length).toBe(before);
      } finally {
        await anonymousControl.close();
      }
    });

    describe('a token that expires in the middle of a pull', () => {
      let proxy: FaultProxy;
      beforeAll(async () => {
        proxy = await startFaultProxy(registry.url);
      });
      afterAll(async () => {
        await proxy?.close();
      });

      /** Tokens live 2 s at the registry; the first layer request reaches it 2.5 s late, after its token expired. */
      function expireMidPull(): void {
        tokens.lifetimeS = 2;
        tokens.exactExpiry = true;
        proxy.requests.length = 0;
        let delayed = false;
        proxy.setRule((req) => {
          if (delayed || req.method !== 'GET' || !/\/blobs\/sha256:/.test(req.path) || !req.headers.authorization) return undefined;
          delayed = true;
          return { kind: 'delay', ms: 2_500 };
        });
      }

      it('renews the grant once through refresh and finishes the pull', async () => {
        expireMidPull();
        const first = bearer(await control.pullGrant(registry.host, repository));
        const renewals: string[] = [];
        const credentials = new RenewableCredential(proxy.host, { kind: 'registry-token', token: first.token }, async () => {
          const renewed = bearer(await control.pullGrant(registry.host, repository));
          renewals.push(renewed.token);
          return { kind: 'registry-token', token: renewed.token };
        });
        const agent = new RegistryClient({ credentials, retry: fastRetry });
        try {
          const cache = await HostCache.open(await mkdtemp(join(work, 'cache-')));
          await pull({ client: agent, cache, reference: `${proxy.host}/${repository}:v1`, materialize: false });
          const { digest } = await digestFile(payload);
          expect(await cache.hasBlob(digest)).toBe(true);
        } finally {
          await agent.close();
        }
        expect(renewals).toHaveLength(1);
        const refusedWithToken = proxy.requests.filter((r) => r.status === 401 && r.headers.authorization === `Bearer ${first.token}`);
        expect(refusedWithToken).toHaveLength(1);
        expect(proxy.requests.filter((r) => r.headers.authorization === `Bearer ${renewals[0]}`).length).toBeGreaterThan(0);
      });

      it('fails as before when the store cannot refresh', async () => {
        expireMidPull();
        const first = bearer(await control.pullGrant(registry.host, repository));
        const agent = new RegistryClient({ credentials: new StaticCredentials({ [proxy.host]: { kind: 'registry-token', token: first.token } }), retry: fastRetry });
        try {
          const cache = await HostCache.open(await mkdtemp(join(work, 'cache-')));
          const error = await pull({ client: agent, cache, reference: `${proxy.host}/${repository}:v1`, materialize: false }).catch((e: unknown) => e);
          expect(error).toBeInstanceOf(UnauthorizedError);
          expect((error as Error).message).toBe(`Registry ${proxy.host} rejected the credentials: check the username and password (or token) and that they may access this repository.`);
          expect((await cache.readIndex()).manifests).toEqual([]);
        } finally {
          await agent.close();
        }
      });
    });
  });

  it('says basic for a registry that speaks only Basic, and anonymous for one that asks nothing', async () => {
    const htpasswdFile = join(work, 'htpasswd');
    await writeHtpasswd(htpasswdFile, { alice: 'alice-pw' });
    const basicRegistry = await startRegistry({ auth: { kind: 'htpasswd', htpasswdFile } });
    const basicControl = clientAs(basicRegistry.host, alice);
    const open = clientAs(inject('registryHost'), alice);
    try {
      expect(await basicControl.pullGrant(basicRegistry.host, uniqueRepository('grant'))).toEqual({ kind: 'basic' });
      expect(await open.pullGrant(inject('registryHost'), uniqueRepository('grant'))).toEqual({ kind: 'anonymous' });
    } finally {
      await basicControl.close();
      await open.close();
      await basicRegistry.stop();
    }
  });
});
