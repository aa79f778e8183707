// The REST client's wire behaviour against a real HTTP server on 127.0.0.1 that answers as told:
// URLs from the contract's paths (parameters encoded), query and body, the bearer token and
// If-Match, and every failure turned into an error that says what to do.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FleetClient } from './client.ts';
import { FleetError } from './errors.ts';

interface Seen {
  method: string;
  url: string;
  authorization?: string;
  ifMatch?: string;
  contentType?: string;
  body: string;
}

describe('FleetClient (a real HTTP server)', () => {
  let server: Server;
  let base: string;
  const seen: Seen[] = [];
  let answer: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end('{}');

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        seen.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization, ifMatch: req.headers['if-match'] as string | undefined, contentType: req.headers['content-type'], body });
        answer(req, res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const client = (options: { server?: string; maxResponseBytes?: number; timeoutMs?: number } = {}) =>
    new FleetClient({ server: options.server ?? `${base}/cider`, token: 'cat_secret', tokenSource: 'CIDER_TOKEN', ...options });
  const json = (status: number, body: unknown) => (_req: IncomingMessage, res: ServerResponse) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  const apiError = (status: number, code: string, message: string, fields?: Record<string, string[]>) => json(status, { error: { code, message, status, ...(fields ? { fields } : {}) } });
  const refusal = async (promise: Promise<unknown>) => {
    const error = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(FleetError);
    return error as FleetError;
  };

  it('builds the URL from the contract path under the server\'s own path, with parameters encoded and the query as text', async () => {
    answer = json(200, { items: [], nextCursor: null });
    await client().call('projects.rolloutNodes', { params: { project: 'ci macs/β' }, query: { notInSync: 'true', limit: 5, cursor: undefined } });
    expect(seen.at(-1)).toMatchObject({ method: 'GET', url: '/cider/api/v1/projects/ci%20macs%2F%CE%B2/rollout/nodes?notInSync=true&limit=5', authorization: 'Bearer cat_secret', body: '' });
  });

  it('sends a JSON body and If-Match, and reads a 204 as nothing', async () => {
    answer = json(201, { id: 'x' });
    expect(await client().call('pins.create', { params: { project: 'p' }, body: { reference: 'r/m:1', mode: 'frozen' } })).toEqual({ id: 'x' });
    expect(seen.at(-1)).toMatchObject({ method: 'POST', url: '/cider/api/v1/projects/p/pins', contentType: 'application/json', body: '{"reference":"r/m:1","mode":"frozen"}' });
    answer = (_req, res) => res.writeHead(204).end();
    expect(await client().call('pins.delete', { params: { pinId: '00000000-0000-4000-8000-000000000000' } }, { ifMatch: '"v3"' })).toBeUndefined();
    expect(seen.at(-1)).toMatchObject({ method: 'DELETE', ifMatch: '"v3"' });
  });

  it('maps the API\'s errors to messages that say what to do, keeping the stable code', async () => {
    answer = apiError(401, 'UNAUTHENTICATED', 'Token expired.');
    const unauthenticated = await refusal(client().call('me.get', {}));
    expect(unauthenticated).toMatchObject({ code: 'UNAUTHENTICATED', status: 401, exitCode: 3 });
    expect(unauthenticated.message).toMatch(/refused the token from CIDER_TOKEN .*run cider fleet login or set CIDER_TOKEN/);
    expect(unauthenticated.message).not.toContain('cat_secret');

    answer = apiError(403, 'FORBIDDEN', 'Only admins revoke nodes.');
    expect(await refusal(client().call('nodes.revoke', { params: { node: 'a' } }))).toMatchObject({ code: 'FORBIDDEN', exitCode: 3, message: expect.stringMatching(/^Not allowed: Only admins revoke nodes\. .*ask an admin/) });

    answer = apiError(404, 'NOT_FOUND', 'No project "nope".');
    expect(await refusal(client().call('projects.get', { params: { project: 'nope' } }))).toMatchObject({ code: 'NOT_FOUND', exitCode: 1, message: 'No project "nope".' });

    answer = apiError(412, 'PRECONDITION_FAILED', 'The pin is at another version.');
    expect((await refusal(client().call('pins.delete', { params: { pinId: 'x' } }, { ifMatch: '"1"' }))).message).toMatch(/changed since it was read .* Read it again and retry/);

    answer = apiError(400, 'BAD_REQUEST', 'Input refused.', { reference: ['Enter an image reference'] });
    expect(await refusal(client().call('pins.create', { params: { project: 'p' }, body: { reference: '' } }))).toMatchObject({ code: 'BAD_REQUEST', exitCode: 2, message: 'Input refused. (reference: Enter an image reference)' });

    answer = (_req, res) => res.writeHead(502, { 'content-type': 'text/html' }).end('<h1>Bad gateway</h1>');
    expect(await refusal(client().call('me.get', {}))).toMatchObject({ code: 'INTERNAL', message: `Cider Fleet at ${base} answered HTTP 502.` });
  });

  it('refuses what is not the API: a non-JSON page, an answer over the size cap, a redirect', async () => {
    answer = (_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>sign in</html>');
    expect((await refusal(client().call('me.get', {}))).message).toMatch(/not JSON: is .* the Cider Fleet server/);

    answer = (_req, res) => {
      // Streamed without a length, so the cap is enforced while reading.
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(`{"items":["${'x'.repeat(4096)}`);
      res.end('"]}');
    };
    expect((await refusal(client({ maxResponseBytes: 1024 }).call('me.get', {}))).message).toMatch(/more than 1024 bytes/);

    answer = (_req, res) => res.writeHead(301, { location: 'https://elsewhere.example/api/v1/me' }).end();
    expect(await refusal(client().call('me.get', {}))).toMatchObject({ code: 'USAGE', message: expect.stringMatching(/redirects GET \/cider\/api\/v1\/me to https:\/\/elsewhere\.example.*set --server/) });
  });

  it('says when the server cannot be reached or does not answer in time', async () => {
    expect(await refusal(client({ server: 'http://127.0.0.1:9' }).call('me.get', {}))).toMatchObject({ code: 'UNREACHABLE', exitCode: 1, message: expect.stringMatching(/Cannot reach Cider Fleet at http:\/\/127\.0\.0\.1:9 .*Check --server or CIDER_SERVER/) });
    answer = () => {}; // never answers
    expect(await refusal(client({ timeoutMs: 200 }).call('me.get', {}))).toMatchObject({ code: 'TIMEOUT', message: expect.stringMatching(/did not answer within 0\.2 s/) });
    expect(() => client({ server: 'ftp://x' })).toThrow(/use an http:\/\/ or https:\/\/ URL/);
    expect(() => client({ server: 'https://u:p@x' })).toThrow(/no user or password in the server URL/);
  });
});
