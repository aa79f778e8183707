// Decommissioning nodes against real PostgreSQL and Redis: the node is revoked and leaves the
// fleet's counts and lists (shown again with `retired`), its open jobs are cancelled, and a purge
// reaches a connected agent before the disconnect notice (one subscription, in publish order).
import { randomBytes } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { failure, useRouterHarness } from '../../../testing/test-context.ts';
import { agentCommandsChannel, nodeNoticesChannel } from './notices.ts';

const harness = useRouterHarness();

async function node(state: 'online' | 'offline') {
  const name = `mac-${randomBytes(3).toString('hex')}`;
  const created = await harness.deps.db.node.create({ data: { name, secretHash: 'x'.repeat(64), state, lastSeenAt: state === 'online' ? new Date() : new Date(Date.now() - 3_600_000) } });
  await harness.deps.db.nodeImage.create({ data: { nodeId: created.id, digest: `sha256:${'a'.repeat(64)}`, reference: 'r.example/demo/macos:15.2', size: 1024n, verifiedAt: new Date() } });
  const job = await harness.deps.db.syncJob.create({ data: { key: `sync:${name}`, nodeId: created.id, digest: `sha256:${'b'.repeat(64)}`, reference: 'r.example/demo/macos:15.3', state: 'queued' } });
  return { ...created, jobId: job.id };
}

/** What the gateways hear while `run` runs, in order. */
async function heard(run: () => Promise<unknown>, until: (seen: { channel: string; message: { type: string } }[]) => boolean) {
  const subscriber = harness.deps.redis.duplicate();
  const seen: { channel: string; message: { type: string } }[] = [];
  subscriber.on('message', (channel: string, raw: string) => {
    const parsed = JSON.parse(raw) as { type?: string; message?: { type: string } };
    seen.push({ channel, message: parsed.message ?? { type: parsed.type ?? '?' } });
  });
  try {
    await subscriber.subscribe(agentCommandsChannel(harness.deps.prefix), nodeNoticesChannel(harness.deps.prefix));
    await run();
    await vi.waitFor(() => expect(until(seen)).toBe(true), { timeout: 5_000, interval: 10 });
    return seen;
  } finally {
    subscriber.disconnect();
  }
}

describe('decommissioning nodes (real PostgreSQL, Redis)', () => {
  it('purges an online node before disconnecting it, cancels its jobs, and takes it out of the fleet, audited', async () => {
    const admin = await harness.user('admin');
    const api = harness.caller(admin);
    const mac = await node('online');
    expect((await api.nodes.page({ search: mac.name })).rows.map((n) => n.id)).toContain(mac.id);
    const before = await api.fleet.overview();

    let message = '';
    const seen = await heard(
      async () => ({ message } = await api.nodes.decommission({ nodeId: mac.id, purgeCache: true })),
      (s) => s.some((e) => e.channel === nodeNoticesChannel(harness.deps.prefix)),
    );
    expect(seen.map((e) => e.message.type)).toEqual(['purge', 'disconnect']);
    expect(message).toMatch(new RegExp(`^Decommissioned ${mac.name}: .*1 open sync job was cancelled; its agent was told to purge its cache`));

    const after = await harness.deps.db.node.findUniqueOrThrow({ where: { id: mac.id } });
    expect(after.decommissionedAt).not.toBeNull();
    expect(after.revokedAt).not.toBeNull();
    expect(await harness.deps.db.nodeImage.count({ where: { nodeId: mac.id } })).toBe(0);
    expect((await harness.deps.db.syncJob.findUniqueOrThrow({ where: { id: mac.jobId } })).state).toBe('cancelled');

    expect((await api.nodes.page({ search: mac.name })).rows.map((n) => n.id)).not.toContain(mac.id);
    expect((await api.nodes.page({ search: mac.name, state: 'revoked' })).rows.find((n) => n.id === mac.id)).toMatchObject({ status: 'revoked', decommissionedAt: after.decommissionedAt });
    expect((await api.fleet.overview()).nodes).toBe(before.nodes - 1);

    const audit = await harness.deps.db.auditEvent.findFirstOrThrow({ where: { targetId: mac.id, action: 'node.decommission' } });
    expect(audit).toMatchObject({ actor: admin.email, before: { name: mac.name, decommissionedAt: null }, after: { name: mac.name, purgeCache: true, purgeSent: true } });

    expect((await api.nodes.decommission({ nodeId: mac.id, purgeCache: true })).message).toBe(`${mac.name} was already decommissioned.`);
    expect(await harness.deps.db.auditEvent.count({ where: { targetId: mac.id, action: 'node.decommission' } })).toBe(1);
  });

  it('says an offline node keeps its cache, and keeps what it holds on record; without a purge sends none', async () => {
    const admin = await harness.user('admin');
    const api = harness.caller(admin);
    const offline = await node('offline');
    const seen = await heard(
      async () => expect((await api.nodes.decommission({ nodeId: offline.id, purgeCache: true })).message).toMatch(/its agent is not connected, so its cache could not be purged/),
      (s) => s.length > 0,
    );
    expect(seen.map((e) => e.message.type)).toEqual(['disconnect']);
    expect(await harness.deps.db.nodeImage.count({ where: { nodeId: offline.id } })).toBe(1);

    const kept = await node('online');
    const quiet = await heard(
      async () => expect((await api.nodes.decommission({ nodeId: kept.id, purgeCache: false })).message).toMatch(/its cache stays on the Mac/),
      (s) => s.length > 0,
    );
    expect(quiet.map((e) => e.message.type)).toEqual(['disconnect']);
  });

  it('is for admins only', async () => {
    const mac = await node('online');
    for (const role of ['member', 'viewer'] as const) {
      await expect(harness.caller(await harness.user(role)).nodes.decommission({ nodeId: mac.id, purgeCache: false })).rejects.toEqual(failure('FORBIDDEN'));
    }
    expect((await harness.deps.db.node.findUniqueOrThrow({ where: { id: mac.id } })).decommissionedAt).toBeNull();
  });
});
