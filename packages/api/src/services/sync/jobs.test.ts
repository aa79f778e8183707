// Sync job history, retry and cancel through the tRPC procedures (real PostgreSQL and Redis/BullMQ).
import { randomBytes } from 'node:crypto';
import type { SyncJobState } from '@cider/db';
import { useTestDatabase } from '@cider/db/testing';
import { syncJobKey } from '@cider/protocol';
import { useRedisPrefix } from '@cider/services/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServiceDeps } from '../../deps-factory.ts';
import { createCaller } from '../../root.ts';
import type { TrpcContext } from '../../trpc.ts';
import { agentCommandsChannel } from '../nodes/notices.ts';
import { recordCancelled } from './reports.ts';

const database = useTestDatabase();
const redis = useRedisPrefix();

const digestOf = (hex: string) => `sha256:${hex.repeat(64 / hex.length)}`;

async function until(what: string, probe: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('sync jobs (real PostgreSQL, Redis)', () => {
  let services: ReturnType<typeof createServiceDeps>;
  let listener: Redis;
  /** Every command published for agents (what gateways would deliver). */
  const commands: { nodeId: string; message: { type: string } }[] = [];
  const callers = {} as Record<'admin' | 'member' | 'viewer', ReturnType<typeof createCaller>>;
  const userIds = {} as Record<'admin' | 'member' | 'viewer', string>;
  let nodeA: string;
  let nodeB: string;
  let registryId: string;
  const pinned = digestOf('a1');
  const unpinned = digestOf('b2');
  let minutes = 0;

  async function job(nodeId: string, digest: string, state: SyncJobState, extra: { error?: string } = {}) {
    const createdAt = new Date(Date.UTC(2025, 0, 1, 12, minutes++));
    const finished = ['done', 'failed', 'cancelled'].includes(state);
    return services.deps.db.syncJob.create({
      data: {
        key: syncJobKey(nodeId, digest),
        nodeId,
        digest,
        reference: `registry.example.com/demo/macos:${digest.slice(-2)}`,
        state,
        createdAt,
        startedAt: state === 'queued' ? null : new Date(createdAt.getTime() + 1_000),
        finishedAt: finished ? new Date(createdAt.getTime() + 61_000) : null,
        bytesDone: state === 'done' ? 2048n : 512n,
        bytesTotal: 2048n,
        attempts: state === 'queued' ? 0 : 1,
        error: extra.error ?? null,
      },
    });
  }

  beforeAll(async () => {
    services = createServiceDeps({ databaseUrl: database.url, redisUrl: redis.url, redisPrefix: redis.prefix, secretKey: randomBytes(32).toString('base64') });
    listener = new Redis(redis.url);
    listener.on('message', (_channel: string, message: string) => commands.push(JSON.parse(message)));
    await listener.subscribe(agentCommandsChannel(redis.prefix));
    const db = services.deps.db;
    for (const role of ['admin', 'member', 'viewer'] as const) {
      const user = await db.user.create({ data: { email: `${role}@example.com`, name: role, passwordHash: 'x', role } });
      userIds[role] = user.id;
      const ctx: TrpcContext = {
        deps: services.deps,
        hub: services.hub,
        user: { id: user.id, email: user.email, name: role, role, teams: [] },
        sessionToken: undefined,
        userAgent: undefined,
        setSessionCookie: () => {},
      };
      callers[role] = createCaller(ctx);
    }
    nodeA = (await db.node.create({ data: { name: 'mac-a', secretHash: 'a'.repeat(64), state: 'online', lastSeenAt: new Date() } })).id;
    nodeB = (await db.node.create({ data: { name: 'mac-b', secretHash: 'b'.repeat(64), state: 'online', lastSeenAt: new Date() } })).id;
    registryId = (await db.registry.create({ data: { name: 'example', host: 'registry.example.com' } })).id;
    const team = await db.team.create({ data: { name: 'Platform' } });
    const project = await db.project.create({ data: { name: 'ios-ci', teamId: team.id, nodeSelector: {} } });
    await db.pin.create({
      data: { projectId: project.id, registryId, reference: 'registry.example.com/demo/macos:a1', repository: 'demo/macos', tag: 'a1', digest: pinned, resolvedAt: new Date() },
    });
  });
  afterAll(async () => {
    listener?.disconnect();
    await services?.close();
  });

  it('lists jobs newest first, page by page, with filters', async () => {
    const created = [
      await job(nodeA, pinned, 'done'),
      await job(nodeA, unpinned, 'failed', { error: 'no space left' }),
      await job(nodeB, pinned, 'pulling'),
      await job(nodeB, unpinned, 'queued'),
      await job(nodeA, unpinned, 'cancelled'),
    ];
    const newestFirst = created.map((j) => j.id).reverse();

    const seen: string[] = [];
    let cursor: string | null | undefined;
    let pages = 0;
    do {
      const page = await callers.viewer.jobs.list({ limit: 2, cursor });
      seen.push(...page.items.map((j) => j.id));
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    expect(seen).toEqual(newestFirst);
    expect(pages).toBe(3);

    const all = await callers.viewer.jobs.list({});
    const done = all.items.find((j) => j.state === 'done')!;
    expect(done).toMatchObject({ node: { id: nodeA, name: 'mac-a' }, bytesDone: 2048, bytesTotal: 2048, attempts: 1, durationMs: 60_000 });
    expect(all.items.find((j) => j.state === 'pulling')!.durationMs).toBeNull();

    expect((await callers.viewer.jobs.list({ state: 'failed' })).items.map((j) => j.error)).toEqual(['no space left']);
    expect((await callers.viewer.jobs.list({ state: 'unfinished' })).items.map((j) => j.state)).toEqual(['queued', 'pulling']);
    expect((await callers.viewer.jobs.list({ nodeId: nodeB })).items.every((j) => j.node.name === 'mac-b')).toBe(true);
    expect((await callers.viewer.jobs.list({ digest: pinned })).items).toHaveLength(2);
    // A digest's beginning is enough, with or without the algorithm.
    expect((await callers.viewer.jobs.list({ digest: unpinned.slice(0, 20) })).items).toHaveLength(3);
    expect((await callers.viewer.jobs.list({ digest: unpinned.slice(7, 30), nodeId: nodeA })).items).toHaveLength(2);
    await expect(callers.viewer.jobs.list({ digest: 'not-a-digest' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });

    const one = await callers.viewer.jobs.get({ jobId: done.id });
    expect(one).toMatchObject({ id: done.id, key: syncJobKey(nodeA, pinned), state: 'done' });
    await expect(callers.viewer.jobs.get({ jobId: '00000000-0000-4000-8000-000000000000' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('retries a failed job through reconcile, audited, for admins only', async () => {
    // Make node A miss the pinned digest again, with its last job failed.
    const failed = await job(nodeA, pinned, 'failed', { error: 'registry unreachable' });
    for (const role of ['member', 'viewer'] as const) {
      await expect(callers[role].jobs.retry({ jobId: failed.id })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    }
    const result = await callers.admin.jobs.retry({ jobId: failed.id });
    expect(result).toMatchObject({ queued: true, syncJobId: expect.any(String) });
    expect(result.syncJobId).not.toBe(failed.id);

    const fresh = await services.deps.db.syncJob.findUniqueOrThrow({ where: { id: result.syncJobId! } });
    expect(fresh).toMatchObject({ nodeId: nodeA, digest: pinned, state: 'queued' });
    expect(await services.deps.queues.queue('sync').getJob(syncJobKey(nodeA, pinned))).toBeTruthy();
    // The failed job stays failed: it is history.
    expect((await services.deps.db.syncJob.findUniqueOrThrow({ where: { id: failed.id } })).state).toBe('failed');

    const audit = await services.deps.db.auditEvent.findFirstOrThrow({ where: { action: 'sync.retry', targetId: failed.id } });
    expect(audit).toMatchObject({ actorId: userIds.admin, actor: 'admin@example.com' });
    expect(audit.after).toMatchObject({ newSyncJobId: fresh.id });

    await expect(callers.admin.jobs.retry({ jobId: fresh.id })).rejects.toMatchObject({ code: 'CONFLICT' });

    // A failed job for an image no pin asks for: nothing to queue, and the answer says so.
    const orphan = await job(nodeB, digestOf('c3'), 'failed', { error: 'gone' });
    const none = await callers.admin.jobs.retry({ jobId: orphan.id });
    expect(none).toEqual({ queued: false, syncJobId: null, message: expect.stringMatching(/No pin asks for this image/) });
  });

  it("cancels a job its node's agent may be running: cancelling, the agent told, cancelled once it confirms; audited, for admins only", async () => {
    const running = await job(nodeB, digestOf('d4'), 'dispatched');
    for (const role of ['member', 'viewer'] as const) {
      await expect(callers[role].jobs.cancel({ jobId: running.id })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    }
    expect(await services.deps.db.syncJob.findUniqueOrThrow({ where: { id: running.id } })).toMatchObject({ state: 'dispatched' });
    expect(commands.filter((c) => c.message.type === 'cancel')).toEqual([]);

    const answer = await callers.admin.jobs.cancel({ jobId: running.id });
    expect(answer).toMatchObject({ state: 'cancelling', message: expect.stringMatching(/^Cancelling the sync of .* on mac-b: its agent stops the download/) });
    const cancelling = await services.deps.db.syncJob.findUniqueOrThrow({ where: { id: running.id } });
    expect(cancelling).toMatchObject({ state: 'cancelling', error: 'Cancelled by admin@example.com', finishedAt: null });
    // The node's agent is told, through whichever gateway holds its socket.
    await until('the cancel command', () => commands.some((c) => c.message.type === 'cancel'));
    expect(commands.filter((c) => c.message.type === 'cancel')).toEqual([{ nodeId: nodeB, message: { type: 'cancel', jobId: running.id, reason: 'Cancelled by admin@example.com' } }]);
    // Still open, so listed as unfinished; a second cancel is refused in words.
    expect((await callers.viewer.jobs.list({ state: 'unfinished', nodeId: nodeB })).items.map((j) => j.id)).toContain(running.id);
    await expect(callers.admin.jobs.cancel({ jobId: running.id })).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/already being cancelled/) });

    // The agent confirms: cancelled, with its finish time.
    await recordCancelled(services.deps, nodeB, { jobId: running.id });
    const after = await services.deps.db.syncJob.findUniqueOrThrow({ where: { id: running.id } });
    expect(after).toMatchObject({ state: 'cancelled', error: 'Cancelled by admin@example.com' });
    expect(after.finishedAt).toBeInstanceOf(Date);

    const events = await services.deps.db.auditEvent.findMany({ where: { targetId: running.id }, orderBy: { id: 'asc' } });
    expect(events.map((e) => [e.action, e.actor])).toEqual([
      ['sync.cancel.request', 'admin@example.com'],
      ['sync.cancel', 'system'],
    ]);
    expect(events[0]!.actorId).toBe(userIds.admin);
    await expect(callers.admin.jobs.cancel({ jobId: running.id })).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/already ended \(cancelled\)/) });
  });

  it('cancels a job that never reached its node at once, its queue entry removed and no agent told', async () => {
    const digest = digestOf('e5');
    const waiting = await job(nodeA, digest, 'queued');
    await services.deps.queues.add('sync', { syncJobId: waiting.id, nodeId: nodeA, digest, reference: waiting.reference, registryId }, { jobId: waiting.key, delay: 60_000 });
    commands.length = 0;
    expect(await callers.admin.jobs.cancel({ jobId: waiting.id })).toMatchObject({ state: 'cancelled' });
    const after = await services.deps.db.syncJob.findUniqueOrThrow({ where: { id: waiting.id } });
    expect(after).toMatchObject({ state: 'cancelled', error: 'Cancelled by admin@example.com' });
    expect(after.finishedAt).toBeInstanceOf(Date);
    expect(await services.deps.queues.queue('sync').getJob(waiting.key)).toBeUndefined();
    // A cancel command would be published before the answer; give it a publish round trip to show up.
    await services.deps.redis.publish(agentCommandsChannel(redis.prefix), JSON.stringify({ nodeId: 'marker', message: { type: 'error', code: 'x', message: 'x' } }));
    await until('the marker', () => commands.some((c) => c.nodeId === 'marker'));
    expect(commands.filter((c) => c.message.type === 'cancel')).toEqual([]);
  });
});
