// Bodies a registry or token service chooses: a gigabyte error body (generated on the fly, never
// allocated), token answers that are huge, not JSON or unusable, and error text full of terminal
// escapes. The client must fail fast with a short, clean message, keep its memory flat, and hang
// up instead of reading (or draining) what it does not need.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sha256 } from './digest.ts';
import { OciError, RegistryError } from './errors.ts';
import { StaticCredentials } from './http/credentials.ts';
import { RegistryClient } from './registry/client.ts';
import { sendEndlessBody, startHostileRegistry, type HostileRegistry } from '../testing/index.ts';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const fastRetry = { retries: 1, baseDelayMs: 10, maxDelayMs: 20 };

async function failure(promise: Promise<unknown>): Promise<OciError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(OciError);
  return error as OciError;
}

/** Neither escape sequences nor control characters: safe for a terminal, a log line, a page. */
function expectPlain(message: string): void {
  // eslint-disable-next-line no-control-regex
  expect(message).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
}

describe('bodies from hostile registries', () => {
  let registry: HostileRegistry;
  let tokens: HostileRegistry;
  let client: RegistryClient;
  let served: Promise<{ sent: number; cutOff: boolean }>[];

  beforeAll(async () => {
    registry = await startHostileRegistry();
    tokens = await startHostileRegistry();
  });
  afterAll(async () => {
    await registry.close();
    await tokens.close();
  });
  beforeEach(() => {
    registry.requests.length = 0;
    tokens.requests.length = 0;
    served = [];
    client = new RegistryClient({ credentials: new StaticCredentials({ [registry.host]: { kind: 'basic', username: 'alice', password: 'wonderland' } }), retry: fastRetry });
  });
  afterEach(async () => {
    await client.close();
  });

  /** Every endless body answered so far: each must have been cut off far short of its size. */
  async function expectCutOff(count: number): Promise<void> {
    const results = await Promise.all(served);
    expect(results).toHaveLength(count);
    for (const result of results) {
      expect(result.cutOff).toBe(true);
      expect(result.sent).toBeLessThan(64 * MiB);
    }
  }

  it('fails fast on a 1 GiB error body, with memory flat and the connection closed long before the end', async () => {
    registry.handle = (_req, res) => served.push(sendEndlessBody(res, 500, GiB).done);
    const before = process.memoryUsage().rss;
    const error = await failure(client.repository(registry.host, 'demo').fetchManifest('v1'));
    const grown = process.memoryUsage().rss - before;
    expect(error).toBeInstanceOf(RegistryError);
    expect(error.message).toMatch(new RegExp(`^Registry ${registry.host} failed manifest demo:v1 with HTTP 500: x{199}… \\(GET http://${registry.host}/v2/demo/manifests/v1\\)$`));
    expect(grown).toBeLessThan(64 * MiB);
    // The first answer and one retry, each abandoned after a few KiB.
    await expectCutOff(2);
  });

  it('does not drain a 1 GiB body sent with a redirect or a 404', async () => {
    registry.handle = (req, res) => {
      if (req.url === '/v2/demo/manifests/v1') served.push(sendEndlessBody(res, 307, GiB, { location: '/v2/demo/manifests/v2' }).done);
      else served.push(sendEndlessBody(res, 404, GiB).done);
    };
    const error = await failure(client.repository(registry.host, 'demo').fetchManifest('v1'));
    expect(error.code).toBe('NOT_FOUND');
    expect(error.message.length).toBeLessThan(400);
    await expectCutOff(2);
  });

  it('takes a HEAD answer naming a 1 GiB length as complete at its headers (no body is waited for)', async () => {
    registry.handle = (req, res) => {
      res.writeHead(200, { 'content-length': String(GiB), 'docker-content-digest': sha256(Buffer.from('x')), 'content-type': 'application/octet-stream' });
      res.end();
    };
    expect(await client.repository(registry.host, 'demo').blobExists(sha256(Buffer.from('x')))).toEqual({ size: GiB });
  });

  describe('token services', () => {
    beforeEach(() => {
      registry.handle = (_req, res) => {
        res.writeHead(401, { 'www-authenticate': `Bearer realm="${tokens.url}/token",service="hostile"`, 'content-type': 'application/json' });
        res.end('{"errors":[{"code":"UNAUTHORIZED"}]}');
      };
    });
    const resolve = () => failure(client.repository(registry.host, 'demo').resolve('v1'));

    it('refuses a token answer over 1 MiB without reading the rest', async () => {
      tokens.handle = (_req, res) => served.push(sendEndlessBody(res, 200, GiB, { 'content-type': 'application/json' }).done);
      const error = await resolve();
      expect(error.message).toBe(`The token service of ${registry.host} (${tokens.url}/token) sent an answer larger than 1048576 bytes; expected {"token": ...}.`);
      await expectCutOff(1);
    });

    it('refuses answers that are not JSON, hold no token, or a token unfit for a header', async () => {
      tokens.handle = (_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>\u001b[2Jlogin page</html>');
      expect((await resolve()).message).toBe(`The token service of ${registry.host} (${tokens.url}/token) sent an answer that is not a JSON object; expected {"token": ...}.`);

      tokens.handle = (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"token": 42}');
      expect((await resolve()).message).toBe(`The token service of ${registry.host} (${tokens.url}/token) sent no token.`);

      tokens.handle = (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: 'abc\r\nX-Injected: 1' }));
      expect((await resolve()).message).toMatch(/sent a token that cannot be used in a header/);
      expect(registry.withAuthorization).toBe(0);
    });

    it('reports a failing token service with a short, clean message, reading only the start of its body', async () => {
      tokens.handle = (_req, res) => served.push(sendEndlessBody(res, 503, GiB).done);
      const error = await resolve();
      expect(error.message).toMatch(new RegExp(`^The token service of ${registry.host} \\(${tokens.url}/token\\) answered HTTP 503: x{199}…$`));
      await expectCutOff(1);

      tokens.handle = (_req, res) =>
        res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ code: '\u001b[31mEVIL', message: 'db down\u001b[0m\r\nFake: log line\u0007' }] }));
      const clean = await resolve();
      expect(clean.message).toBe(`The token service of ${registry.host} (${tokens.url}/token) answered HTTP 500: UNKNOWN: db down Fake: log line`);
    });
  });

  it('strips escape sequences and control characters from registry error text, JSON or not', async () => {
    registry.handle = (req, res) => {
      if (req.url?.endsWith('/v1')) {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ code: 'MANIFEST_INVALID', message: '\u001b]0;pwned\u0007\u001b[1;31mbad\u001b[0m manifest\r\n[INFO] forged' }] }));
      } else {
        res.writeHead(400, { 'content-type': 'text/plain' }).end('\u001b[2J\u001b[Hplain\u0000 text\u202eevil');
      }
    };
    const json = await failure(client.repository(registry.host, 'demo').fetchManifest('v1'));
    expect(json.message).toBe(`Registry ${registry.host} failed manifest demo:v1 with HTTP 400: MANIFEST_INVALID: bad manifest [INFO] forged (GET http://${registry.host}/v2/demo/manifests/v1)`);
    expect((json as RegistryError).errors[0]).toMatchObject({ code: 'MANIFEST_INVALID', message: 'bad manifest [INFO] forged' });
    const text = await failure(client.repository(registry.host, 'demo').fetchManifest('v2'));
    expectPlain(text.message);
    expect(text.message).toContain('HTTP 400: plain text evil (GET');
  });
});
