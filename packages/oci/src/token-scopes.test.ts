// Per-repository grants and identity tokens against a real docker-registry with token auth and
// our token server: a user may pull or push only the repositories its grant lists, and is told
// so in words after one token request, not a retry storm; an identity token (docker's name for an
// OAuth2 refresh token) is exchanged for access tokens, again when they expire, and a refused
// one is a clear UNAUTHORIZED.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRegistry, type RunningRegistry } from '@cider/services';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { HostCache } from './cache/cache.ts';
import { UnauthorizedError } from './errors.ts';
import { StaticCredentials, type Credential } from './http/credentials.ts';
import { pull } from './pull.ts';
import { pushArtifact } from './push.ts';
import { RegistryClient } from './registry/client.ts';
import { startFaultProxy, startTokenServer, writeRandomFile, type FaultProxy, type TokenRequestRecord, type TokenServer } from '../testing/index.ts';

const fastRetry = { retries: 2, baseDelayMs: 10, maxDelayMs: 20 };
const ci: Credential = { kind: 'basic', username: 'ci', password: 'ci-pw' };

async function rejection(promise: Promise<unknown>): Promise<UnauthorizedError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(UnauthorizedError);
  return error as UnauthorizedError;
}

describe('per-repository grants and identity tokens (real docker-registry, token auth)', () => {
  let work: string;
  let payload: string;
  const digests: Record<string, string> = {};
  let tokens: TokenServer;
  let registry: RunningRegistry;
  /** In front of the registry, counting what the clients under test send it. */
  let proxy: FaultProxy;
  let seeder: RegistryClient;
  const run = randomBytes(4).toString('hex');
  const teamA = `team-a-${run}/macos`;
  const teamB = `team-b-${run}/macos`;
  const readOnly = `shared-${run}/macos`;
  const clients: RegistryClient[] = [];

  const clientWith = (credential: Credential): RegistryClient => {
    const client = new RegistryClient({ credentials: new StaticCredentials({ [proxy.host]: credential }), retry: fastRetry });
    clients.push(client);
    return client;
  };
  const freshCache = async () => HostCache.open(await mkdtemp(join(work, 'cache-')));
  /** Token and registry requests made while `action` ran. */
  async function traffic(action: () => Promise<unknown>): Promise<{ tokens: TokenRequestRecord[]; registry: string[] }> {
    const tokensBefore = tokens.requests.length;
    const registryBefore = proxy.requests.length;
    await action();
    return { tokens: tokens.requests.slice(tokensBefore), registry: proxy.requests.slice(registryBefore).map((r) => `${r.method} ${r.status}`) };
  }

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cider-scopes-'));
    payload = join(work, 'payload.bin');
    await writeRandomFile(payload, 64 * 1024);
    tokens = await startTokenServer({
      service: 'cider-scopes',
      issuer: 'cider-scopes-issuer',
      users: {
        admin: { password: 'admin-pw', actions: ['*'] },
        // Pushes and pulls its team's repositories, may only pull the shared one, nothing else.
        ci: { password: 'ci-pw', repositories: { [`team-a-${run}/*`]: ['pull', 'push'], [readOnly]: ['pull'] } },
      },
      refreshTokens: { 'ci-identity-token': 'ci' },
    });
    registry = await startRegistry({ auth: tokens.registryAuth });
    proxy = await startFaultProxy(registry.url);
    seeder = new RegistryClient({ credentials: new StaticCredentials({ [registry.host]: { kind: 'basic', username: 'admin', password: 'admin-pw' } }) });
    for (const repository of [teamA, teamB, readOnly]) {
      const file = join(work, `${repository.replaceAll('/', '-')}.bin`);
      await writeRandomFile(file, 32 * 1024);
      digests[repository] = (await pushArtifact({ client: seeder, reference: `${registry.host}/${repository}:v1`, files: [{ path: file }] })).digest;
    }
  });
  afterAll(async () => {
    vi.useRealTimers();
    for (const client of clients) await client.close();
    await seeder?.close();
    await proxy?.close();
    await registry?.stop();
    await tokens?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('pulls and pushes the repositories its grant lists', async () => {
    const client = clientWith(ci);
    const cache = await freshCache();
    expect((await pull({ client, cache, reference: `${proxy.host}/${teamA}:v1`, materialize: false })).digest).toBe(digests[teamA]);
    expect((await pull({ client, cache, reference: `${proxy.host}/${readOnly}:v1`, materialize: false })).digest).toBe(digests[readOnly]);
    const pushed = await pushArtifact({ client, reference: `${proxy.host}/${teamA}:v2`, files: [{ path: payload }] });
    expect((await seeder.repository(registry.host, teamA).resolve('v2')).digest).toBe(pushed.digest);
  });

  it('is DENIED pulling a repository its grant does not list: one token request, a sentence naming user, action and repository, nothing stored', async () => {
    const client = clientWith(ci);
    const cache = await freshCache();
    let error: UnauthorizedError | undefined;
    const seen = await traffic(async () => {
      error = await rejection(pull({ client, cache, reference: `${proxy.host}/${teamB}:v1`, materialize: false }));
    });
    expect(error?.code).toBe('DENIED');
    expect(error?.message).toBe(
      `Registry ${proxy.host} denied pull access to repository ${teamB} for user "ci": the credentials were accepted but do not grant that permission. Ask the registry's administrator for access, or log in as another user.`,
    );
    // The token said no: asking again, or retrying the request, cannot change that.
    expect(seen.tokens).toEqual([expect.objectContaining({ account: 'ci', scopes: [`repository:${teamB}:pull`], granted: [], status: 200 })]);
    expect(seen.registry).toEqual(['GET 401', 'GET 401']);
    expect(await cache.listImages()).toEqual([]);
  });

  it('is DENIED pushing where its grant allows only pull, and the tag is not written', async () => {
    const client = clientWith(ci);
    let error: UnauthorizedError | undefined;
    const seen = await traffic(async () => {
      error = await rejection(pushArtifact({ client, reference: `${proxy.host}/${readOnly}:v2`, files: [{ path: payload }] }));
    });
    expect(error?.code).toBe('DENIED');
    expect(error?.message).toBe(
      `Registry ${proxy.host} denied pull,push access to repository ${readOnly} for user "ci": the credentials were accepted but do not grant that permission. Ask the registry's administrator for access, or log in as another user.`,
    );
    // At most a token for the blob checks and one for the upload, each granting pull only; no more
    // requests than the upload's first refusal.
    expect(seen.tokens.length).toBeLessThanOrEqual(2);
    expect(seen.tokens.map((r) => r.granted)).toEqual(seen.tokens.map(() => [`${readOnly}:pull`]));
    expect(seen.tokens.at(-1)?.scopes).toEqual([`repository:${readOnly}:pull,push`]);
    expect(seen.registry.filter((line) => line.startsWith('POST') || line.startsWith('PUT') || line.startsWith('PATCH'))).toEqual(['POST 401']);
    expect(seen.registry.length).toBeLessThanOrEqual(4);
    await expect(seeder.repository(registry.host, readOnly).resolve('v2')).rejects.toThrow(/Tag "v2" not found/);
  });

  it('exchanges an identity token for access tokens (OAuth2 refresh grant, no password), again once they expire', async () => {
    const client = clientWith({ kind: 'identity-token', token: 'ci-identity-token', username: 'ci' });
    tokens.lifetimeS = 1;
    try {
      const cache = await freshCache();
      const first = await traffic(() => pull({ client, cache, reference: `${proxy.host}/${teamA}:v1`, materialize: false }));
      expect(first.tokens).toEqual([
        expect.objectContaining({ method: 'POST', grant: 'refresh_token', account: 'ci', scopes: [`repository:${teamA}:pull`], granted: [`${teamA}:pull`], status: 200 }),
      ]);
      expect(await cache.listImages()).toHaveLength(1);

      // Its one-second access token runs out (the clock is moved on, not waited for): the next
      // request exchanges the identity token again rather than sending a stale token.
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(Date.now() + 1_100);
      const again = await traffic(() => client.repository(proxy.host, teamA).resolve('v1'));
      expect(again.tokens).toEqual([expect.objectContaining({ method: 'POST', grant: 'refresh_token', account: 'ci', status: 200 })]);
      expect(again.registry.every((line) => line.endsWith(' 200'))).toBe(true);
    } finally {
      vi.useRealTimers();
      tokens.lifetimeS = 300;
    }
  });

  it("keeps an identity token's user to its grant: DENIED on another team's repository", async () => {
    const client = clientWith({ kind: 'identity-token', token: 'ci-identity-token', username: 'ci' });
    let error: UnauthorizedError | undefined;
    const seen = await traffic(async () => {
      error = await rejection(pull({ client, cache: await freshCache(), reference: `${proxy.host}/${teamB}:v1`, materialize: false }));
    });
    expect(seen.tokens).toEqual([expect.objectContaining({ method: 'POST', grant: 'refresh_token', account: 'ci', granted: [], status: 200 })]);
    if (!error) throw new Error('unreachable');
    expect(error.code).toBe('DENIED');
    expect(error.message).toMatch(new RegExp(`^Registry ${proxy.host} denied pull access to repository ${teamB} for user "ci"`));
  });

  it('says UNAUTHORIZED, once, when the token service refuses the identity token', async () => {
    const client = clientWith({ kind: 'identity-token', token: 'revoked-identity-token' });
    let error: UnauthorizedError | undefined;
    const seen = await traffic(async () => {
      error = await rejection(client.repository(proxy.host, teamA).resolve('v1'));
    });
    expect(error?.code).toBe('UNAUTHORIZED');
    expect(error?.message).toBe(`Registry ${proxy.host} rejected the credentials: check the username and password (or token) and that they may access this repository.`);
    expect(seen.tokens).toEqual([expect.objectContaining({ method: 'POST', grant: 'refresh_token', status: 401 })]);
    expect(seen.registry).toEqual(['HEAD 401']);
  });
});
