// The bundle download (GET /api/bundles/projects/<id>) against a real docker-registry and
// PostgreSQL: admins only (by session cookie), Content-Length is the tar's exact size, the body
// is a bundle that verifies and holds the pinned digest named by its tag, the registry is read
// only as fast as the browser reads (memory stays flat), and a browser that goes away ends the
// registry reads.
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { randomBytes } from 'node:crypto';
import { useTestDatabase } from '@cider/db/testing';
import { pushIpsw, RegistryClient, verifyBundle } from '@cider/oci';
import { makeSyntheticIpsw, startFaultProxy } from '@cider/oci/testing';
import { useRedisPrefix } from '@cider/services/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { sessionCookieName } from '../../cookies.ts';
import { hashToken, newToken } from '../../crypto.ts';
import { createServiceDeps } from '../../deps-factory.ts';
import { bundleDownloadResponse } from './bundle-download.ts';
import { ociTaskRunners } from './oci-runners.ts';

const database = useTestDatabase();
const redis = useRedisPrefix();
const MiB = 1024 * 1024;

describe('bundle download (real registry, PostgreSQL)', () => {
  let work: string;
  let services: ReturnType<typeof createServiceDeps>;
  let projectId: string;
  let digest: string;
  const cookies = {} as Record<'admin' | 'member' | 'viewer', string>;
  const repository = `download-${randomBytes(3).toString('hex')}/macos`;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cider-download-'));
    services = createServiceDeps({
      databaseUrl: database.url,
      redisUrl: redis.url,
      redisPrefix: redis.prefix,
      secretKey: randomBytes(32).toString('base64'),
      tasks: { runners: ociTaskRunners(), appleCatalogUrl: 'http://127.0.0.1:9/catalog.xml' },
    });
    const db = services.deps.db;
    for (const role of ['admin', 'member', 'viewer'] as const) {
      const user = await db.user.create({ data: { email: `${role}@example.com`, name: role, passwordHash: 'x', role } });
      const token = newToken('cs');
      await db.session.create({ data: { id: hashToken(token), userId: user.id, expiresAt: new Date(Date.now() + 3_600_000) } });
      cookies[role] = `${sessionCookieName}=${token}`;
    }
    const host = new URL(inject('registryUrl')).host;
    const client = new RegistryClient();
    try {
      const path = await makeSyntheticIpsw({ dir: work, payloadBytes: 8 * MiB, name: 'UniversalMac_15.2_24C101_Restore.ipsw' });
      digest = (await pushIpsw({ client, path, repository: `${host}/${repository}`, tags: ['15.2'] })).digest;
    } finally {
      await client.close();
    }
    const registry = await db.registry.create({ data: { name: 'local', host, plainHttp: true } });
    const team = await db.team.create({ data: { name: 'Platform' } });
    projectId = (await db.project.create({ data: { name: 'iOS CI', teamId: team.id, nodeSelector: {} } })).id;
    await db.pin.create({ data: { projectId, registryId: registry.id, reference: `${host}/${repository}:15.2`, repository, tag: '15.2', digest, resolvedAt: new Date() } });
  });
  afterAll(async () => {
    await services?.close();
    await rm(work, { recursive: true, force: true });
  });

  const get = (cookie: string | undefined, id = projectId, signal?: AbortSignal) =>
    bundleDownloadResponse(services.deps, new Request(`http://127.0.0.1/api/bundles/projects/${id}`, { headers: cookie ? { cookie } : {}, ...(signal ? { signal } : {}) }), id);

  it('refuses anyone but an admin', async () => {
    expect((await get(undefined)).status).toBe(401);
    expect((await get(cookies.member)).status).toBe(403);
    const viewer = await get(cookies.viewer);
    expect(viewer.status).toBe(403);
    expect(await viewer.text()).toContain('Only admins');
    expect((await get(cookies.admin, 'not-a-project')).status).toBe(404);
    expect((await get(cookies.admin, '00000000-0000-4000-8000-000000000000')).status).toBe(404);
  });

  it('streams a bundle of exactly Content-Length bytes that verifies, audited', async () => {
    const response = await get(cookies.admin);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/x-tar');
    // A proxy or Next.js's compression must leave it as it is, Content-Length included.
    expect(response.headers.get('cache-control')).toBe('no-store, no-transform');
    expect(response.headers.get('content-disposition')).toMatch(/^attachment; filename="ios-ci-\d{4}-\d\d-\d\d\.tar"$/);
    const length = Number(response.headers.get('content-length'));
    expect(length).toBeGreaterThan(8 * MiB);
    const path = join(work, 'download.tar');
    await pipeline(Readable.fromWeb(response.body as unknown as NodeReadableStream<Uint8Array>), createWriteStream(path));
    expect((await stat(path)).size).toBe(length);
    const verified = await verifyBundle(path);
    expect(verified.problems).toEqual([]);
    expect(verified.images).toEqual([{ refName: `${repository}:15.2`, digest }]);
    const audit = await services.deps.db.auditEvent.findFirst({ where: { action: 'bundle.download', targetId: projectId } });
    expect(audit?.actor).toBe('admin@example.com');
  });

  it('reads the registry only as fast as the browser reads, and stops when it goes away', async () => {
    // A 64 MiB image behind a proxy that counts the blob bytes the registry sends.
    const proxy = await startFaultProxy(inject('registryUrl'));
    try {
      const big = `slow-${randomBytes(3).toString('hex')}/macos`;
      const client = new RegistryClient();
      let bigDigest: string;
      try {
        const path = await makeSyntheticIpsw({ dir: work, payloadBytes: 64 * MiB, name: 'UniversalMac_15.3_24D60_Restore.ipsw', version: '15.3', build: '24D60' });
        bigDigest = (await pushIpsw({ client, path, repository: `${proxy.host}/${big}`, tags: ['15.3'] })).digest;
      } finally {
        await client.close();
      }
      const db = services.deps.db;
      const registry = await db.registry.create({ data: { name: 'proxied', host: proxy.host, plainHttp: true } });
      const team = await db.team.findFirstOrThrow();
      const slowProject = (await db.project.create({ data: { name: 'Slow reader', teamId: team.id, nodeSelector: {} } })).id;
      await db.pin.create({ data: { projectId: slowProject, registryId: registry.id, reference: `${proxy.host}/${big}:15.3`, repository: big, tag: '15.3', digest: bigDigest, resolvedAt: new Date() } });
      const servedBefore = proxy.blobBytesServed;

      const browser = new AbortController();
      const response = await get(cookies.admin, slowProject, browser.signal);
      expect(Number(response.headers.get('content-length'))).toBeGreaterThan(64 * MiB);
      const reader = response.body!.getReader();
      expect((await reader.read()).done).toBe(false);
      /** The proxy's count once it stops moving (the pipeline has filled its buffers and waits). */
      const settled = async () => {
        let last = -1;
        for (let i = 0; i < 50 && proxy.blobBytesServed !== last; i++) {
          last = proxy.blobBytesServed;
          await new Promise((r) => setTimeout(r, 200));
        }
        return proxy.blobBytesServed - servedBefore;
      };
      // Holding the first chunk: the registry has sent what fills the buffers on the way, not the image.
      expect(await settled()).toBeLessThan(24 * MiB);
      browser.abort();
      await reader.cancel();
      expect((await reader.read().catch(() => ({ done: true }))).done).toBe(true);
      // Gone: the registry reads end there, well short of the image.
      expect(await settled()).toBeLessThan(32 * MiB);
    } finally {
      await proxy.close();
    }
  });
});
