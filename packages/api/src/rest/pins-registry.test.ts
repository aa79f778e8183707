// REST pins against a real docker-registry: POST resolves the tag to the pushed digest, PUT moves
// the pin to another tag (re-resolved, audited), refuses a tag the project already pins (409),
// and If-None-Match: * makes POST create-only. Plus the OpenAPI document validates.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validate } from '@readme/openapi-parser';
import { CiderMediaType, pushArtifact, RegistryClient } from '@cider/oci';
import { startRegistry, type RunningRegistry } from '@cider/services';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiToken } from '../services/access/api-tokens.ts';
import { useRouterHarness } from '../../testing/test-context.ts';
import { operations } from './contract.ts';
import { createRestHandler } from './handler.ts';
import { buildOpenApiDocument } from './openapi.ts';

const harness = useRouterHarness();
const base = 'http://dashboard.test:3000/api/v1';

describe('REST pins (real PostgreSQL, Redis, docker-registry)', () => {
  let work: string;
  let registry: RunningRegistry;
  const digests: Record<string, string> = {};

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cider-rest-'));
    registry = await startRegistry();
    const client = new RegistryClient();
    for (const tag of ['15.2', '15.3']) {
      const file = join(work, `payload-${tag}.bin`);
      await writeFile(file, `payload ${tag}`);
      // A Cider image: its config carries the version and build the tag pages show.
      const config = { os: 'macOS', version: tag, build: `24C${tag.replace('.', '')}`, architecture: 'arm64', created: '2024-12-11T18:00:00Z' };
      const pushed = await pushArtifact({
        client,
        reference: `${registry.host}/macos:${tag}`,
        files: [{ path: file, mediaType: CiderMediaType.ipsw }],
        artifactType: CiderMediaType.artifact,
        config: { mediaType: CiderMediaType.config, bytes: Buffer.from(JSON.stringify(config)) },
      });
      digests[tag] = pushed.digest;
    }
    await client.close();
  });
  afterAll(async () => {
    await registry?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it('creates a pin resolved at the registry, moves it with PUT, refuses a clash with 409', async () => {
    const db = harness.deps.db;
    const team = await db.team.create({ data: { name: 'ci' } });
    await db.project.create({ data: { name: 'builds', teamId: team.id } });
    await db.registry.create({ data: { name: 'local', host: registry.host, plainHttp: true } });
    const member = await harness.user('member', { teams: { [team.id]: 'member' } });
    const { token } = await createApiToken(harness.deps, { userId: member.id, label: member.email }, { userId: member.id, name: 'ci' });
    const handle = createRestHandler({ basePath: '/api/v1', services: () => ({ deps: harness.deps, hub: harness.hub }), trustedProxyHops: 0 });
    const send = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
      handle(new Request(`${base}${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers }, body: body === undefined ? undefined : JSON.stringify(body) }));

    const created = await send('POST', '/projects/BUILDS/pins', { reference: `${registry.host}/macos:15.2` });
    expect(created.status).toBe(201);
    const pin = (await created.json()) as { id: string; digest: string; etag: string; mode: string };
    expect(pin.digest).toBe(digests['15.2']);
    expect(created.headers.get('etag')).toBe(pin.etag);

    const again = await send('POST', '/projects/builds/pins', { reference: `${registry.host}/macos:15.2` }, { 'if-none-match': '*' });
    expect(again.status).toBe(412);

    const other = await send('POST', '/projects/builds/pins', { reference: `${registry.host}/macos:15.3`, mode: 'frozen' });
    expect(other.status).toBe(201);
    const clash = await send('PUT', `/pins/${pin.id}`, { reference: `${registry.host}/macos:15.3` }, { 'if-match': pin.etag });
    expect(clash.status).toBe(409);
    expect(((await clash.json()) as { error: { code: string } }).error.code).toBe('CONFLICT');

    await send('DELETE', `/pins/${((await other.json()) as { id: string }).id}`);
    const moved = await send('PUT', `/pins/${pin.id}`, { reference: `${registry.host}/macos:15.3`, mode: 'frozen' }, { 'if-match': pin.etag });
    expect(moved.status).toBe(200);
    const after = (await moved.json()) as { digest: string; mode: string; reference: string; etag: string };
    expect(after).toMatchObject({ digest: digests['15.3'], mode: 'frozen', reference: `${registry.host}/macos:15.3` });
    expect(after.etag).not.toBe(pin.etag);
    const stale = await send('PUT', `/pins/${pin.id}`, { reference: `${registry.host}/macos:15.2` }, { 'if-match': pin.etag });
    expect(stale.status).toBe(412);
    expect(await db.auditEvent.count({ where: { action: 'pin.update', targetId: pin.id } })).toBe(1);

    // The registry's repositories and a repository's tags, a page at a time.
    const repos = (await (await send('GET', '/registries/local/repositories')).json()) as { items: { name: string; pins: number }[] };
    expect(repos.items).toEqual([{ name: 'macos', pins: 1 }]);
    const first = await send('GET', '/registries/local/tags?repository=macos&limit=1');
    const page1 = (await first.json()) as { items: { tag: string; digest: string; macosVersion: string | null; build: string | null; createdAt: string | null; holders: number }[]; nextCursor: string | null };
    expect(page1.items).toHaveLength(1);
    const page2 = (await (await send('GET', `/registries/local/tags?repository=macos&limit=1&cursor=${page1.nextCursor}`)).json()) as typeof page1;
    expect(page2.nextCursor).toBeNull();
    const tags = Object.fromEntries([...page1.items, ...page2.items].map((t) => [t.tag, t.digest]));
    expect(tags).toEqual(digests);
    // Each tag's facts come from its image's config at the registry.
    for (const item of [...page1.items, ...page2.items]) {
      expect(item).toMatchObject({ macosVersion: item.tag, build: `24C${item.tag.replace('.', '')}`, createdAt: '2024-12-11T18:00:00Z' });
    }
  });

  it('builds an OpenAPI 3.1 document that validates and names every operation', async () => {
    const document = buildOpenApiDocument({ serverUrl: '/api/v1' });
    const result = await validate(structuredClone(document) as never);
    expect(result.valid, JSON.stringify(result)).toBe(true);
    const ids = Object.values(document.paths as Record<string, Record<string, { operationId: string }>>).flatMap((m) => Object.values(m).map((op) => op.operationId));
    expect(ids.sort()).toEqual(Object.keys(operations).sort());
  });
});
