// recordHeartbeat against real PostgreSQL and Redis: every heartbeat moves lastSeenAt, only the
// ones that change what a page shows publish node.updated, and a revoked node's is refused.
import type { HostFacts } from '@cider/protocol';
import { describe, expect, it, vi } from 'vitest';
import { eventsChannel, type FleetEvent } from '../../events.ts';
import { useRouterHarness } from '../../../testing/test-context.ts';
import { markNodeOffline, recordHeartbeat } from './nodes.ts';

const harness = useRouterHarness();
const GiB = 1024 ** 3;

function facts(freeBytes = 76 * GiB): HostFacts {
  return {
    hostname: 'beat.local',
    os: { platform: 'macOS', release: '24.2.0', version: '15.2' },
    architecture: 'arm64',
    cpu: { model: 'Apple M2', cores: 8 },
    memoryBytes: 16 * GiB,
    disk: { totalBytes: 500 * GiB, freeBytes },
    cache: { path: '/var/cider', bytes: GiB },
    conditions: [],
  };
}

describe('recordHeartbeat (real PostgreSQL, Redis)', () => {
  it('publishes for the heartbeats that change what is shown, and only those', async () => {
    const node = await harness.deps.db.node.create({ data: { name: 'beat-1', secretHash: 'x'.repeat(64) } });
    const subscriber = harness.deps.redis.duplicate();
    const seen: FleetEvent[] = [];
    subscriber.on('message', (_channel: string, raw: string) => seen.push(JSON.parse(raw) as FleetEvent));
    try {
      await subscriber.subscribe(eventsChannel(harness.deps.prefix));
      const updates = () => seen.filter((e) => e.type === 'node.updated' && e.nodeId === node.id).length;

      expect(await recordHeartbeat(harness.deps, node.id, facts())).toBe(true); // offline -> online
      await vi.waitFor(() => expect(updates()).toBe(1), { timeout: 5_000, interval: 10 });
      const firstSeen = (await harness.deps.db.node.findUniqueOrThrow({ where: { id: node.id } })).lastSeenAt!;

      await new Promise((r) => setTimeout(r, 5));
      for (let i = 0; i < 5; i++) expect(await recordHeartbeat(harness.deps, node.id, facts(76 * GiB - i * 1024 ** 2))).toBe(true);
      const row = await harness.deps.db.node.findUniqueOrThrow({ where: { id: node.id } });
      expect(row.lastSeenAt!.getTime()).toBeGreaterThan(firstSeen.getTime());
      expect((row.facts as HostFacts).disk.freeBytes).toBe(76 * GiB - 4 * 1024 ** 2);

      await recordHeartbeat(harness.deps, node.id, facts(60 * GiB)); // free disk moved visibly
      await markNodeOffline(harness.deps, node.id);
      await recordHeartbeat(harness.deps, node.id, facts(60 * GiB)); // back online
      await vi.waitFor(() => expect(updates()).toBe(4), { timeout: 5_000, interval: 10 });
      await new Promise((r) => setTimeout(r, 100));
      expect(updates()).toBe(4);
    } finally {
      subscriber.disconnect();
    }
  });

  it("refuses a revoked node's heartbeat and leaves its row alone", async () => {
    const node = await harness.deps.db.node.create({ data: { name: 'beat-revoked', secretHash: 'x'.repeat(64), revokedAt: new Date(), state: 'revoked' } });
    expect(await recordHeartbeat(harness.deps, node.id, facts())).toBe(false);
    const row = await harness.deps.db.node.findUniqueOrThrow({ where: { id: node.id } });
    expect(row.lastSeenAt).toBeNull();
    expect(row.state).toBe('revoked');
  });
});
