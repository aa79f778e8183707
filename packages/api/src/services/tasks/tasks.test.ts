// Server tasks through the tRPC procedures (real PostgreSQL and Redis/BullMQ): admins only, the
// catalog's entry (not the browser) decides what is fetched, bundle paths stay inside
// CIDER_BUNDLE_DIR, tasks list page by page, cancel and the sweep. The runners here only answer
// the catalog; the work itself is tested in apps/control (server-tasks.test.ts).
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useTestDatabase } from '@cider/db/testing';
import type { RestoreImage } from '@cider/oci';
import { useRedisPrefix } from '@cider/services/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServiceDeps } from '../../deps-factory.ts';
import { createCaller } from '../../root.ts';
import type { TrpcContext } from '../../trpc.ts';
import { checkBundlePath } from './bundle-path.ts';
import type { ServerTaskRunners } from './runners.ts';
import { sweepTasks, taskJobId } from './tasks.ts';
import { interruptedMessage } from './states.ts';

const database = useTestDatabase();
const redis = useRedisPrefix();

const catalog: RestoreImage[] = [
  { version: '15.2', build: '24C101', url: 'http://127.0.0.1:9/UniversalMac_15.2_24C101_Restore.ipsw', sha1: 'a'.repeat(40), devices: ['VirtualMac2,1'] },
  { version: '15.1', build: '24B83', url: 'http://127.0.0.1:9/UniversalMac_15.1_24B83_Restore.ipsw', devices: ['VirtualMac2,1'] },
];
let catalogFetches = 0;
const sizeAsked: string[] = [];
const refuse = () => Promise.reject(new Error('not used here'));
const runners: ServerTaskRunners = {
  fetchAppleCatalog: async () => {
    catalogFetches++;
    return catalog;
  },
  restoreImageSize: async (url) => {
    sizeAsked.push(url);
    if (url.includes('24B83')) throw new Error(`${url} was not found (HTTP 404); check the URL`);
    return 17_123_456_789;
  },
  publishFromApple: refuse,
  planBundle: refuse,
  writeBundle: refuse,
  exportBundle: refuse,
};

describe('server tasks (real PostgreSQL, Redis)', () => {
  let services: ReturnType<typeof createServiceDeps>;
  let bundleDir: string;
  let outside: string;
  const callers = {} as Record<'admin' | 'member' | 'viewer', ReturnType<typeof createCaller>>;
  let registryId: string;
  let projectId: string;
  let emptyProjectId: string;

  beforeAll(async () => {
    bundleDir = await mkdtemp(join(tmpdir(), 'cider-bundles-'));
    outside = await mkdtemp(join(tmpdir(), 'cider-outside-'));
    services = createServiceDeps({
      databaseUrl: database.url,
      redisUrl: redis.url,
      redisPrefix: redis.prefix,
      secretKey: randomBytes(32).toString('base64'),
      tasks: { runners, appleCatalogUrl: 'http://127.0.0.1:9/catalog.xml', bundleDir },
    });
    const db = services.deps.db;
    for (const role of ['admin', 'member', 'viewer'] as const) {
      const user = await db.user.create({ data: { email: `${role}@example.com`, name: role, passwordHash: 'x', role } });
      const ctx: TrpcContext = { deps: services.deps, hub: services.hub, user: { id: user.id, email: user.email, name: role, role, teams: [] }, sessionToken: undefined, userAgent: undefined, setSessionCookie: () => {} };
      callers[role] = createCaller(ctx);
    }
    registryId = (await db.registry.create({ data: { name: 'local', host: '127.0.0.1:5999', plainHttp: true } })).id;
    const team = await db.team.create({ data: { name: 'Platform' } });
    const project = await db.project.create({ data: { name: 'iOS CI', teamId: team.id, nodeSelector: {} } });
    projectId = project.id;
    emptyProjectId = (await db.project.create({ data: { name: 'Empty', teamId: team.id, nodeSelector: {} } })).id;
    await db.pin.create({
      data: { projectId, registryId, reference: '127.0.0.1:5999/demo/macos:15.2', repository: 'demo/macos', tag: '15.2', digest: `sha256:${'c'.repeat(64)}`, resolvedAt: new Date() },
    });
  });
  afterAll(async () => {
    await services?.close();
    await rm(bundleDir, { recursive: true, force: true });
    await rm(outside, { recursive: true, force: true });
  });

  it('refuses members and viewers everything', async () => {
    for (const role of ['member', 'viewer'] as const) {
      const caller = callers[role];
      await expect(caller.tasks.list({})).rejects.toMatchObject({ code: 'FORBIDDEN' });
      await expect(caller.tasks.appleCatalog()).rejects.toMatchObject({ code: 'FORBIDDEN' });
      await expect(caller.tasks.publishFromApple({ build: '24C101', registryId, repository: 'apple/macos' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
      await expect(caller.tasks.exportBundle({ projectId, path: join(bundleDir, 'x.tar') })).rejects.toMatchObject({ code: 'FORBIDDEN' });
      await expect(caller.tasks.bundleOptions({ projectName: 'x' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    }
    expect(await services.deps.db.serverTask.count()).toBe(0);
  });

  it('lists the catalog from one cached fetch', async () => {
    const first = await callers.admin.tasks.appleCatalog();
    const second = await callers.admin.tasks.appleCatalog();
    expect(first.images.map((i) => i.build)).toEqual(['24C101', '24B83']);
    expect(second.url).toBe('http://127.0.0.1:9/catalog.xml');
    expect(catalogFetches).toBe(1);
  });

  it("gives an image's size from its URL, cached; a URL that does not answer says why, and is asked again next time", async () => {
    expect(await callers.admin.tasks.appleImageSize({ build: '24C101' })).toEqual({ build: '24C101', size: 17_123_456_789, error: null });
    await callers.admin.tasks.appleImageSize({ build: '24C101' });
    expect(sizeAsked.filter((url) => url.includes('24C101'))).toEqual([catalog[0]!.url]);
    const missing = await callers.admin.tasks.appleImageSize({ build: '24B83' });
    expect(missing).toEqual({ build: '24B83', size: null, error: `${catalog[1]!.url} was not found (HTTP 404); check the URL` });
    await callers.admin.tasks.appleImageSize({ build: '24B83' });
    expect(sizeAsked.filter((url) => url.includes('24B83'))).toHaveLength(2);
    // Only builds the catalog offers: the browser never names a URL.
    await expect(callers.admin.tasks.appleImageSize({ build: '99Z99' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(callers.member.tasks.appleImageSize({ build: '24C101' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });

  it('starts a publish with the catalog entry URL and SHA-1, default tags, queued and audited', async () => {
    const task = await callers.admin.tasks.publishFromApple({ build: '24C101', registryId, repository: 'apple/macos' });
    expect(task).toMatchObject({ kind: 'publish-apple', state: 'queued', createdBy: 'admin@example.com', title: 'macOS 15.2 (24C101) → 127.0.0.1:5999/apple/macos' });
    const row = await services.deps.db.serverTask.findUniqueOrThrow({ where: { id: task.id } });
    expect(row.params).toMatchObject({ url: catalog[0]!.url, sha1: 'a'.repeat(40), tags: ['15.2', '15.2-24C101'], registryHost: '127.0.0.1:5999' });
    const job = await services.deps.queues.queue('server-task').getJob(taskJobId(task.id));
    expect(job?.data).toEqual({ taskId: task.id });
    const audit = await services.deps.db.auditEvent.findFirst({ where: { action: 'task.publish-apple', targetId: task.id } });
    expect(audit?.actor).toBe('admin@example.com');

    const tagged = await callers.admin.tasks.publishFromApple({ build: '24B83', registryId, repository: 'apple/macos', tags: ['latest', ' 15.1 '] });
    expect((await services.deps.db.serverTask.findUniqueOrThrow({ where: { id: tagged.id } })).params).toMatchObject({ tags: ['latest', '15.1'] });
    expect((await services.deps.db.serverTask.findUniqueOrThrow({ where: { id: tagged.id } })).params).not.toHaveProperty('sha1');

    await expect(callers.admin.tasks.publishFromApple({ build: '99Z999', registryId, repository: 'apple/macos' })).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining('does not offer build 99Z999') });
    await expect(callers.admin.tasks.publishFromApple({ build: '24C101', registryId, repository: 'Apple/../macOS' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(callers.admin.tasks.publishFromApple({ build: '24C101', registryId, repository: 'apple/macos', tags: ['-bad'] })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(callers.admin.tasks.publishFromApple({ build: '24C101', registryId: '00000000-0000-4000-8000-000000000000', repository: 'apple/macos' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('keeps bundle paths inside CIDER_BUNDLE_DIR and never over an existing file', async () => {
    await writeFile(join(bundleDir, 'existing.tar'), 'x');
    await writeFile(join(bundleDir, 'leftover.tar.partial'), 'x');
    await symlink(outside, join(bundleDir, 'escape'));
    await symlink(join(outside, 'target.tar'), join(bundleDir, 'dangling.tar'));
    await mkdir(join(bundleDir, 'site'));
    const refused: [string, string, RegExp][] = [
      [join(outside, 'x.tar'), 'BAD_REQUEST', /must be inside/],
      ['relative.tar', 'BAD_REQUEST', /must be absolute/],
      [`${bundleDir}/site/../../x.tar`, 'BAD_REQUEST', /must not contain "\.\."/],
      [`${bundleDir}/site/../x.tar`, 'BAD_REQUEST', /must not contain "\.\."/],
      [join(bundleDir, 'escape', 'x.tar'), 'BAD_REQUEST', /outside .* symbolic link/],
      [join(bundleDir, 'existing.tar'), 'CONFLICT', /already exists; bundles never overwrite/],
      [join(bundleDir, 'dangling.tar'), 'CONFLICT', /already exists/],
      [join(bundleDir, 'leftover.tar'), 'CONFLICT', /leftover\.tar\.partial already exists/],
      [join(bundleDir, 'missing', 'x.tar'), 'BAD_REQUEST', /does not exist on the server/],
      [join(bundleDir, 'x.zip'), 'BAD_REQUEST', /end the name with \.tar/],
      [bundleDir, 'BAD_REQUEST', /\.tar/],
    ];
    for (const [path, code, message] of refused) {
      await expect(callers.admin.tasks.exportBundle({ projectId, path }), path).rejects.toMatchObject({ code, message: expect.stringMatching(message) });
    }
    expect(await services.deps.db.serverTask.count({ where: { kind: 'bundle_export' } })).toBe(0);
    await expect(checkBundlePath(undefined, join(bundleDir, 'x.tar'))).rejects.toThrow(/set CIDER_BUNDLE_DIR/);

    await expect(callers.admin.tasks.exportBundle({ projectId: emptyProjectId, path: join(bundleDir, 'empty.tar') })).rejects.toMatchObject({ message: expect.stringContaining('pins no image yet') });
    const task = await callers.admin.tasks.exportBundle({ projectId, path: join(bundleDir, 'site', 'ios.tar') });
    expect(task).toMatchObject({ kind: 'bundle-export', state: 'queued' });
    const row = await services.deps.db.serverTask.findUniqueOrThrow({ where: { id: task.id } });
    expect(row.params).toMatchObject({ path: join(bundleDir, 'site', 'ios.tar'), references: [`127.0.0.1:5999/demo/macos:15.2@sha256:${'c'.repeat(64)}`], registryIds: [registryId] });
    expect(await services.deps.db.auditEvent.count({ where: { action: 'task.bundle-export', targetId: task.id } })).toBe(1);
    // The project's page lists its own bundle exports only.
    const other = await services.deps.db.serverTask.create({ data: { kind: 'bundle_export', params: { projectId: emptyProjectId, path: join(bundleDir, 'other.tar') } } });
    expect((await callers.admin.tasks.list({ kind: 'bundle-export', projectId })).items.map((t) => t.id)).toEqual([task.id]);
    expect((await callers.admin.tasks.list({ kind: 'bundle-export', projectId: emptyProjectId })).items.map((t) => t.id)).toEqual([other.id]);
    await services.deps.db.serverTask.delete({ where: { id: other.id } });
    expect(await callers.admin.tasks.bundleOptions({ projectName: 'iOS CI' })).toMatchObject({ bundleDir, suggestedName: expect.stringMatching(/^ios-ci-\d{4}-\d\d-\d\d\.tar$/) });
  });

  it('pages tasks newest first, cancels a queued one, and sweeps stale running ones', async () => {
    const db = services.deps.db;
    const seen: string[] = [];
    let cursor: string | null | undefined;
    let pages = 0;
    do {
      const page = await callers.admin.tasks.list({ limit: 2, cursor });
      seen.push(...page.items.map((t) => t.id));
      cursor = page.nextCursor;
      pages++;
    } while (cursor && pages < 20);
    const all = await db.serverTask.findMany({ orderBy: [{ createdAt: 'desc' }, { id: 'desc' }] });
    expect(seen).toEqual(all.map((t) => t.id));
    expect(pages).toBe(Math.ceil(all.length / 2));
    await expect(callers.admin.tasks.list({ cursor: 'nonsense' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });

    const queued = await callers.admin.tasks.publishFromApple({ build: '24C101', registryId, repository: 'apple/cancel' });
    expect(await callers.admin.tasks.cancel({ taskId: queued.id })).toMatchObject({ state: 'cancelled' });
    expect(await callers.admin.tasks.get({ taskId: queued.id })).toMatchObject({ state: 'cancelled', error: 'Cancelled by admin@example.com' });
    await expect(callers.admin.tasks.cancel({ taskId: queued.id })).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(callers.member.tasks.cancel({ taskId: queued.id })).rejects.toMatchObject({ code: 'FORBIDDEN' });

    const running = await callers.admin.tasks.publishFromApple({ build: '24C101', registryId, repository: 'apple/running' });
    await db.serverTask.update({ where: { id: running.id }, data: { state: 'running', startedAt: new Date() } });
    expect(await callers.admin.tasks.cancel({ taskId: running.id })).toMatchObject({ state: 'running', message: expect.stringContaining('Cancelling') });
    expect((await db.serverTask.findUniqueOrThrow({ where: { id: running.id } })).cancelRequested).toBe(true);

    // Its process went away: the row stops moving, and the sweep fails it.
    const later = new Date(Date.now() + 60_000);
    const { interrupted } = await sweepTasks(services.deps, later);
    expect(interrupted).toContain(running.id);
    expect(await callers.admin.tasks.get({ taskId: running.id })).toMatchObject({ state: 'failed', error: interruptedMessage });
  });
});
