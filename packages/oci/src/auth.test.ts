// Registry authentication against real registries: docker-registry (CNCF distribution) with
// htpasswd (Basic) and with token auth backed by a token server of our own (Bearer), plus a
// small node registry that redirects blob downloads to another host.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRegistry, type RunningRegistry } from '@cider/services';
import { uniqueRepository } from '@cider/services/testing';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { HostCache } from './cache/cache.ts';
import { sha256, type Digest } from './digest.ts';
import { UnauthorizedError } from './errors.ts';
import { StaticCredentials, type Credential } from './http/credentials.ts';
import { pull } from './pull.ts';
import { digestFile, pushArtifact } from './push.ts';
import { RegistryClient } from './registry/client.ts';
import { startTokenServer, writeHtpasswd, writeRandomFile, type TokenServer } from '../testing/index.ts';

const fastRetry = { retries: 1, baseDelayMs: 10, maxDelayMs: 20 };

function clientAs(host: string, credential?: Credential): RegistryClient {
  return new RegistryClient({ credentials: new StaticCredentials(credential ? { [host]: credential } : {}), retry: fastRetry });
}

const basic = (username: string, password: string): Credential => ({ kind: 'basic', username, password });

/** A digest no registry holds: HEAD on it exercises auth and answers 404. */
const unknownDigest = (): Digest => sha256(randomBytes(16));

async function rejection(promise: Promise<unknown>): Promise<UnauthorizedError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(UnauthorizedError);
  return error as UnauthorizedError;
}

describe('auth against real registries', () => {
  let work: string;
  let payload: string;
  let payloadDigest: Digest;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cider-auth-'));
    payload = join(work, 'payload.bin');
    await writeRandomFile(payload, 256 * 1024 + 3);
    payloadDigest = (await digestFile(payload)).digest;
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  async function pushAndPull(client: RegistryClient, reference: string): Promise<void> {
    const pushed = await pushArtifact({ client, reference, files: [{ path: payload }] });
    const cache = await HostCache.open(await mkdtemp(join(work, 'cache-')));
    const pulled = await pull({ client, cache, reference, materialize: false });
    expect(pulled.digest).toBe(pushed.digest);
    expect(await readFile(cache.blobPath(payloadDigest))).toEqual(await readFile(payload));
  }

  describe('Basic: docker-registry with htpasswd', () => {
    let registry: RunningRegistry;

    beforeAll(async () => {
      const htpasswdFile = join(work, 'htpasswd');
      await writeHtpasswd(htpasswdFile, { alice: 'wonderland', bob: 'builder' });
      registry = await startRegistry({ auth: { kind: 'htpasswd', htpasswdFile } });
    });
    afterAll(async () => {
      await registry?.stop();
    });

    it('pushes and pulls with the right password', async () => {
      const client = clientAs(registry.host, basic('alice', 'wonderland'));
      try {
        await pushAndPull(client, `${registry.host}/${uniqueRepository('basic')}:v1`);
      } finally {
        await client.close();
      }
    });

    it('says the credentials of the named user were rejected when the password is wrong', async () => {
      const client = clientAs(registry.host, basic('bob', 'not-his-password'));
      try {
        const error = await rejection(pushArtifact({ client, reference: `${registry.host}/${uniqueRepository('basic')}:v1`, files: [{ path: payload }] }));
        expect(error.code).toBe('UNAUTHORIZED');
        expect(error.message).toBe(
          `Registry ${registry.host} rejected the credentials for user "bob": check the username and password (or token) and that they may access this repository.`,
        );
      } finally {
        await client.close();
      }
    });

    it('tells to add credentials when there are none', async () => {
      const client = clientAs(registry.host);
      try {
        const error = await rejection(client.repository(registry.host, uniqueRepository('basic')).blobExists(payloadDigest));
        expect(error.message).toBe(
          `Registry ${registry.host} requires a username and password. Add credentials for it (cider login ${registry.host}, or the registry's settings in the dashboard).`,
        );
      } finally {
        await client.close();
      }
    });
  });

  describe('Bearer: docker-registry with token auth and our token server', () => {
    let tokens: TokenServer;
    let registry: RunningRegistry;
    const alice = basic('alice', 'alice-pw');
    const reader = basic('reader', 'reader-pw');

    beforeAll(async () => {
      tokens = await startTokenServer({
        service: 'cider-test',
        issuer: 'cider-test-issuer',
        users: { alice: { password: 'alice-pw', actions: ['pull', 'push'] }, reader: { password: 'reader-pw', actions: ['pull'] } },
      });
      registry = await startRegistry({ auth: tokens.registryAuth });
    });
    afterAll(async () => {
      await registry?.stop();
      await tokens?.close();
    });

    /** Token requests made while `action` ran, as sorted scope sets. */
    async function tokenRequestsDuring(action: () => Promise<unknown>): Promise<string[]> {
      const before = tokens.requests.length;
      await action();
      return tokens.requests.slice(before).map((r) => [...r.scopes].sort().join(' '));
    }

    it('lets alice push and pull, asking the token service once per scope set', async () => {
      const repository = uniqueRepository('bearer');
      const client = clientAs(registry.host, alice);
      try {
        const requested = await tokenRequestsDuring(() => pushAndPull(client, `${registry.host}/${repository}:v1`));
        expect(requested.sort()).toEqual([`repository:${repository}:pull`, `repository:${repository}:pull,push`]);
        expect(tokens.requests.at(-1)).toMatchObject({ account: 'alice', status: 200 });
        // Tokens are still valid: more work on the same repository needs no new one.
        expect(await tokenRequestsDuring(() => client.repository(registry.host, repository).resolve('v1'))).toEqual([]);
      } finally {
        await client.close();
      }
    });

    it('shares one token fetch among parallel requests', async () => {
      const repo = uniqueRepository('bearer');
      const client = clientAs(registry.host, alice);
      try {
        const requested = await tokenRequestsDuring(async () => {
          const found = await Promise.all(Array.from({ length: 8 }, () => client.repository(registry.host, repo).blobExists(unknownDigest())));
          expect(found).toEqual(Array(8).fill(undefined));
        });
        expect(requested).toEqual([`repository:${repo}:pull`]);
      } finally {
        await client.close();
      }
    });

    it('lets reader pull but refuses its push with a DENIED error', async () => {
      const repository = uniqueRepository('bearer');
      const reference = `${registry.host}/${repository}:v1`;
      const writer = clientAs(registry.host, alice);
      const client = clientAs(registry.host, reader);
      try {
        await pushArtifact({ client: writer, reference, files: [{ path: payload }] });
        const cache = await HostCache.open(await mkdtemp(join(work, 'cache-')));
        await pull({ client, cache, reference, materialize: false });

        let error: UnauthorizedError | undefined;
        const requested = await tokenRequestsDuring(async () => {
          error = await rejection(pushArtifact({ client, reference: `${registry.host}/${repository}:v2`, files: [{ path: payload }] }));
        });
        expect(error?.code).toBe('DENIED');
        expect(error?.message).toBe(
          `Registry ${registry.host} denied pull,push access to repository ${repository} for user "reader": the credentials were accepted but do not grant that permission. Ask the registry's administrator for access, or log in as another user.`,
        );
        // A token that lacks the permission is not worth fetching twice.
        expect(requested).toEqual([`repository:${repository}:pull,push`]);
      } finally {
        await writer.close();
        await client.close();
      }
    });

    it('fails at the token service when the password is wrong', async () => {
      const client = clientAs(registry.host, basic('alice', 'wrong'));
      try {
        const error = await rejection(client.repository(registry.host, uniqueRepository('bearer')).blobExists(unknownDigest()));
        expect(error.message).toBe(
          `Registry ${registry.host} rejected the credentials for user "alice": check the username and password (or token) and that they may access this repository.`,
        );
        expect(tokens.requests.at(-1)).toMatchObject({ account: 'alice', status: 401 });
      } finally {
        await client.close();
      }
    });

    it('renews a short-lived token before it expires', async () => {
      const repo = uniqueRepository('bearer');
      const client = clientAs(registry.host, alice);
      tokens.lifetimeS = 1;
      try {
        const head = () => client.repository(registry.host, repo).blobExists(unknownDigest());
        expect(await tokenRequestsDuring(head)).toEqual([`repository:${repo}:pull`]);
        // Still fresh: no new token.
        expect(await tokenRequestsDuring(head)).toEqual([]);
        // The clock moves past the token's life instead of the test waiting it out.
        vi.useFakeTimers({ toFake: ['Date'] });
        vi.setSystemTime(Date.now() + 1_100);
        expect(await tokenRequestsDuring(head)).toEqual([`repository:${repo}:pull`]);
      } finally {
        vi.useRealTimers();
        tokens.lifetimeS = 300;
        await client.close();
      }
    });

    it('fetches a new token when the registry refuses one the client still thought valid', async () => {
      const client = clientAs(registry.host, alice);
      const repo = uniqueRepository('bearer');
      try {
        // Learn the challenge first, so the next repository's first request carries a token.
        await client.repository(registry.host, uniqueRepository('bearer')).blobExists(unknownDigest());
        tokens.staleTokens = 1;
        const requested = await tokenRequestsDuring(() => client.repository(registry.host, repo).blobExists(unknownDigest()));
        expect(requested).toEqual([`repository:${repo}:pull`, `repository:${repo}:pull`]);
        expect(tokens.staleTokens).toBe(0);
      } finally {
        tokens.staleTokens = 0;
        await client.close();
      }
    });
  });

  describe('redirects to another host', () => {
    interface Seen {
      path: string;
      headers: IncomingHttpHeaders;
    }
    let registryServer: Server;
    let storageServer: Server;
    const registrySeen: Seen[] = [];
    const storageSeen: Seen[] = [];
    const blob = randomBytes(4096);
    const digest = sha256(blob);
    let host: string;

    const listen = async (server: Server): Promise<number> => {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return (server.address() as AddressInfo).port;
    };

    beforeAll(async () => {
      storageServer = createServer((req, res) => {
        storageSeen.push({ path: req.url ?? '', headers: req.headers });
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(blob.length) });
        res.end(blob);
      });
      const storagePort = await listen(storageServer);
      // A registry that needs Basic and sends blob downloads to storage elsewhere, as registries
      // backed by S3 or a CDN do (distribution-spec "Pulling blobs": 307 to the content).
      registryServer = createServer((req, res) => {
        registrySeen.push({ path: req.url ?? '', headers: req.headers });
        if (req.headers.authorization !== `Basic ${Buffer.from('alice:wonderland').toString('base64')}`) {
          res.writeHead(401, { 'www-authenticate': 'Basic realm="fake registry"', 'content-type': 'application/json' });
          res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
          return;
        }
        if (req.url === `/v2/demo/blobs/${digest}`) {
          res.writeHead(307, { location: `http://127.0.0.1:${storagePort}/storage/${digest.slice(7)}?signature=abc` });
          res.end();
          return;
        }
        res.writeHead(404).end();
      });
      host = `127.0.0.1:${await listen(registryServer)}`;
    });
    afterAll(async () => {
      for (const server of [registryServer, storageServer]) {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
    });

    it('follows a 307 to another host without sending it the Authorization header', async () => {
      const client = clientAs(host, basic('alice', 'wonderland'));
      try {
        const response = await client.repository(host, 'demo').fetchBlob(digest);
        expect(await response.body.buffer()).toEqual(blob);
      } finally {
        await client.close();
      }
      expect(registrySeen.map((r) => r.headers.authorization)).toEqual([undefined, `Basic ${Buffer.from('alice:wonderland').toString('base64')}`]);
      expect(storageSeen).toHaveLength(1);
      expect(storageSeen[0]!.path).toBe(`/storage/${digest.slice(7)}?signature=abc`);
      expect(storageSeen[0]!.headers.authorization).toBeUndefined();
    });
  });
});
