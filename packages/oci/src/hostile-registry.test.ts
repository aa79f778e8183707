// A client that trusts registries less (issue 9, item 5), against registries that misbehave on
// purpose (./testing/hostile-registry.ts): https redirects to plain http, credentials lured to
// another host, Bearer realms on link-local or plain-http hosts, token services that redirect or
// answer garbage. Each case checks that the process carries on, the error says what happened,
// no credential reached where it must not go, and nothing landed in the cache.
// Every client here goes through LoopbackOnly, so even a broken check sends nothing off this host.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HostCache } from './cache/cache.ts';
import { sha256 } from './digest.ts';
import { OciError, RegistryError, UnauthorizedError } from './errors.ts';
import { StaticCredentials } from './http/credentials.ts';
import { HttpClient, type HttpResponseData, type SendOptions } from './http/http-client.ts';
import { encodeManifest, type ImageManifest } from './manifest.ts';
import { MediaType } from './media-types.ts';
import { pull } from './pull.ts';
import { RegistryClient } from './registry/client.ts';
import { makeTestCertificate, startHostileRegistry, type HostileRegistry, type TestCertificate } from '../testing/index.ts';

/** Refuses (and records) any request that would leave loopback: a failed check must not reach a real network. */
class LoopbackOnly extends HttpClient {
  readonly asked: string[] = [];
  override request(url: string | URL, options: SendOptions): Promise<HttpResponseData> {
    const target = new URL(url);
    this.asked.push(target.href);
    if (!/^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/.test(target.hostname)) return Promise.reject(new Error(`test guard: ${target.host} is not loopback`));
    return super.request(url, options);
  }
}

const fastRetry = { retries: 1, baseDelayMs: 10, maxDelayMs: 20 };
const aliceBasic = `Basic ${Buffer.from('alice:wonderland').toString('base64')}`;

async function failure(promise: Promise<unknown>): Promise<Error> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(OciError);
  return error as Error;
}

/** A small image (config and one layer) a test registry serves under demo:v1. */
function smallImage() {
  const config = Buffer.from('{"architecture":"arm64","os":"darwin"}');
  const layer = randomBytes(4096);
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: { mediaType: MediaType.ociConfig, digest: sha256(config), size: config.length },
    layers: [{ mediaType: MediaType.octetStream, digest: sha256(layer), size: layer.length }],
  };
  const encoded = encodeManifest(manifest);
  return { config, layer, manifest, bytes: encoded.bytes, digest: encoded.digest, blobs: new Map([[sha256(config), config], [sha256(layer), layer]]) };
}

describe('a registry that tries to move our traffic or credentials', () => {
  let tls: TestCertificate;
  let work: string;
  const servers: HostileRegistry[] = [];
  const start = async (options: Parameters<typeof startHostileRegistry>[0] = {}) => {
    const server = await startHostileRegistry(options);
    servers.push(server);
    return server;
  };

  beforeAll(async () => {
    tls = await makeTestCertificate();
    work = await mkdtemp(join(tmpdir(), 'cider-hostile-'));
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
    await rm(work, { recursive: true, force: true });
  });

  async function emptyCache(): Promise<HostCache> {
    return HostCache.open(await mkdtemp(join(work, 'cache-')));
  }

  /** Nothing in the cache: no blob, no index entry, no partial download left with data. */
  async function expectNothingCached(cache: HostCache, digests: string[]): Promise<void> {
    expect((await cache.readIndex()).manifests).toEqual([]);
    for (const digest of digests) expect(await cache.hasBlob(digest)).toBe(false);
    expect(await readdir(join(cache.root, 'blobs', 'sha256')).catch(() => [])).toEqual([]);
  }

  describe('over https', () => {
    const image = smallImage();
    let registry: HostileRegistry;
    let plain: HostileRegistry;
    let storage: HostileRegistry;
    let http: LoopbackOnly;
    let client: RegistryClient;

    beforeAll(async () => {
      registry = await start({ tls });
      plain = await start();
      // Another host for the same machine: https://localhost:<port> (the certificate names it).
      storage = await start({ tls, hostname: 'localhost' });
      http = new LoopbackOnly({ ca: tls.cert });
      client = new RegistryClient({ http, loopbackPlainHttp: false, credentials: new StaticCredentials({ [registry.host]: { kind: 'basic', username: 'alice', password: 'wonderland' } }), retry: fastRetry });
    });
    afterAll(async () => {
      await client.close();
      http.close();
    });
    beforeEach(() => {
      for (const server of [registry, plain, storage]) server.requests.length = 0;
      plain.handle = (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.end(image.layer);
      };
    });

    /** The registry: Basic auth, the manifest, and blobs answered by `blob`. */
    function serve(blob: (digest: string, res: ServerResponse) => void, manifest?: (res: ServerResponse) => void) {
      registry.handle = (req, res) => {
        if (req.headers.authorization !== aliceBasic) {
          res.writeHead(401, { 'www-authenticate': 'Basic realm="hostile"', 'content-type': 'application/json' }).end('{"errors":[{"code":"UNAUTHORIZED"}]}');
          return;
        }
        if (req.url === '/v2/demo/manifests/v1') {
          if (manifest) return manifest(res);
          res.writeHead(200, { 'content-type': MediaType.ociManifest, 'content-length': String(image.bytes.length), 'docker-content-digest': image.digest });
          res.end(req.method === 'HEAD' ? undefined : image.bytes);
          return;
        }
        const match = /^\/v2\/demo\/blobs\/(sha256:[0-9a-f]{64})$/.exec(req.url ?? '');
        if (match) return blob(match[1]!, res);
        res.writeHead(404).end();
      };
    }

    it('refuses a blob download redirected from https to plain http, before anything is sent there', async () => {
      serve((digest, res) => res.writeHead(307, { location: `${plain.url}/storage/${digest.slice(7)}` }).end());
      const cache = await emptyCache();
      const error = await failure(pull({ client, cache, reference: `${registry.host}/demo:v1`, materialize: false }));
      expect(error).toBeInstanceOf(RegistryError);
      expect(error.message).toMatch(new RegExp(`^Registry ${registry.host} redirected blob sha256:[0-9a-f]{64} of demo from https to plain http \\(http://127\\.0\\.0\\.1:${plain.port}/storage/[0-9a-f]{64}\\): refused`));
      expect(plain.requests).toEqual([]);
      await expectNothingCached(cache, [...image.blobs.keys()]);
    });

    it('refuses a manifest redirected from https to plain http', async () => {
      serve(
        (_digest, res) => res.writeHead(404).end(),
        (res) => res.writeHead(302, { location: `${plain.url}/v2/demo/manifests/v1` }).end(),
      );
      const cache = await emptyCache();
      const error = await failure(pull({ client, cache, reference: `${registry.host}/demo:v1`, materialize: false }));
      expect(error.message).toMatch(/redirected manifest demo:v1 from https to plain http/);
      expect(plain.requests).toEqual([]);
      await expectNothingCached(cache, [...image.blobs.keys()]);
    });

    it('refuses a downgrade one hop later: registry -> https storage -> plain http', async () => {
      serve((digest, res) => res.writeHead(307, { location: `${storage.url}/cdn/${digest.slice(7)}` }).end());
      storage.handle = (req, res) => res.writeHead(302, { location: `${plain.url}${req.url}` }).end();
      const cache = await emptyCache();
      const error = await failure(pull({ client, cache, reference: `${registry.host}/demo:v1`, materialize: false }));
      expect(error.message).toMatch(/from https to plain http/);
      expect(storage.requests).toHaveLength(1);
      expect(storage.withAuthorization).toBe(0);
      expect(plain.requests).toEqual([]);
      await expectNothingCached(cache, [...image.blobs.keys()]);
    });

    it('follows a redirect to another https host without the credentials, and pulls what it serves', async () => {
      serve((digest, res) => res.writeHead(307, { location: `${storage.url}/cdn/${digest.slice(7)}?sig=1` }).end());
      storage.handle = (req, res) => {
        const blob = image.blobs.get(`sha256:${/\/cdn\/([0-9a-f]{64})/.exec(req.url ?? '')?.[1]}`);
        if (!blob) return res.writeHead(404).end();
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(blob.length) }).end(blob);
      };
      const cache = await emptyCache();
      const result = await pull({ client, cache, reference: `${registry.host}/demo:v1`, materialize: false });
      expect(result.digest).toBe(image.digest);
      expect(await cache.hasBlob(sha256(image.layer))).toBe(true);
      expect(storage.requests.map((r) => r.path.replace(/[0-9a-f]{64}/, '<hex>'))).toEqual(['/cdn/<hex>?sig=1', '/cdn/<hex>?sig=1']);
      expect(storage.withAuthorization).toBe(0);
      expect(registry.withAuthorization).toBeGreaterThan(0);
    });
  });

  describe('Bearer realms', () => {
    let registry: HostileRegistry;
    let elsewhere: HostileRegistry;
    let http: LoopbackOnly;
    let client: RegistryClient;
    let realm: string;

    beforeAll(async () => {
      registry = await start();
      elsewhere = await start({ hostname: 'localhost' });
      registry.handle = (req, res) => {
        res.writeHead(401, { 'www-authenticate': `Bearer realm="${realm}",service="hostile",scope="repository:demo:pull"`, 'content-type': 'application/json' });
        res.end('{"errors":[{"code":"UNAUTHORIZED"}]}');
      };
      elsewhere.handle = (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"token":"stolen"}');
    });
    beforeEach(() => {
      registry.requests.length = 0;
      elsewhere.requests.length = 0;
      http = new LoopbackOnly();
      client = new RegistryClient({ http, credentials: new StaticCredentials({ [registry.host]: { kind: 'basic', username: 'alice', password: 'wonderland' } }), retry: fastRetry });
    });
    afterEach(async () => {
      await client.close();
      http.close();
    });

    it('never sends the credential to a link-local (cloud metadata) realm', async () => {
      realm = 'http://169.254.169.254/latest/meta-data/iam/security-credentials/';
      const error = await failure(client.repository(registry.host, 'demo').resolve('v1'));
      expect(error).toBeInstanceOf(UnauthorizedError);
      expect(error.message).toBe(
        `Registry ${registry.host} named the token service ${realm}, which Cider refuses: 169.254.169.254 is a link-local, cloud metadata or unspecified address. No credentials were sent to it.`,
      );
      expect(http.asked.some((url) => url.includes('169.254'))).toBe(false);
      expect(registry.withAuthorization).toBe(0);
    });

    it('never sends the credential to a plain-http realm on another host', async () => {
      realm = `http://localhost:${elsewhere.port}/token`;
      const error = await failure(client.repository(registry.host, 'demo').resolve('v1'));
      expect(error.message).toMatch(/plain http is allowed only on the registry's own host \(127\.0\.0\.1\); serve the token service over https\. No credentials were sent to it\.$/);
      expect(elsewhere.requests).toEqual([]);
      expect(registry.withAuthorization).toBe(0);
    });

    it('does not follow a token service that redirects elsewhere', async () => {
      const tokens = await start();
      tokens.handle = (_req, res) => res.writeHead(302, { location: `http://localhost:${elsewhere.port}/token` }).end();
      realm = `${tokens.url}/token`;
      const error = await failure(client.repository(registry.host, 'demo').resolve('v1'));
      expect(error.message).toMatch(/answered with a redirect \(HTTP 302\); Cider sends credentials only to the realm the registry names and does not follow it/);
      expect(tokens.withAuthorization).toBe(1);
      expect(elsewhere.requests).toEqual([]);
    });
  });
});
