// The heartbeat rule on its own: which heartbeats change what a page shows.
import type { HostFacts } from '@cider/protocol';
import { describe, expect, it } from 'vitest';
import { bytesMoved, heartbeatIsVisible, type NodeBeforeHeartbeat } from './heartbeat-change.ts';

const GiB = 1024 ** 3;
const now = Date.parse('2026-11-26T12:00:00Z');

function facts(change: (f: HostFacts) => void = () => {}): HostFacts {
  const f: HostFacts = {
    hostname: 'mac-1.local',
    os: { platform: 'macOS', release: '24.2.0', version: '15.2' },
    architecture: 'arm64',
    cpu: { model: 'Apple M2', cores: 8 },
    memoryBytes: 16 * GiB,
    disk: { totalBytes: 500 * GiB, freeBytes: 76 * GiB },
    cache: { path: '/var/cider', bytes: 32 * 1024 ** 2 },
    conditions: [],
    peer: { port: 7070, addresses: ['10.0.0.5'], uploadedBytes: 0, uploadsInFlight: 0 },
  };
  change(f);
  return f;
}

const onlineBefore = (f: HostFacts | null = facts(), seenAgoMs = 15_000): NodeBeforeHeartbeat => ({ state: 'online', lastSeenAt: new Date(now - seenAgoMs), facts: f });

describe('heartbeatIsVisible', () => {
  it('stays quiet for a heartbeat that repeats the last one', () => {
    expect(heartbeatIsVisible(onlineBefore(), facts(), now)).toBe(false);
  });

  it('stays quiet when only the upload counters and small byte drifts moved', () => {
    const after = facts((f) => {
      f.peer = { port: 7070, addresses: ['10.0.0.5'], uploadedBytes: 5 * GiB, uploadsInFlight: 3 };
      f.disk.freeBytes -= 200 * 1024 ** 2; // 0.26% of 76 GiB
      f.cache.bytes += 100 * 1024; // 0.3% of 32 MiB
    });
    expect(heartbeatIsVisible(onlineBefore(), after, now)).toBe(false);
  });

  it('reads stored facts whatever order their keys come back in', () => {
    const f = facts();
    const stored = Object.fromEntries(Object.entries(f).reverse()) as unknown as HostFacts;
    const reordered = { ...stored, disk: { freeBytes: f.disk.freeBytes, totalBytes: f.disk.totalBytes }, os: { version: '15.2', release: '24.2.0', platform: 'macOS' }, cpu: { cores: 8, model: 'Apple M2' } };
    expect(heartbeatIsVisible(onlineBefore(reordered), facts(), now)).toBe(false);
  });

  it('speaks when the node comes online: from an offline row, a silent one, or never seen', () => {
    expect(heartbeatIsVisible({ ...onlineBefore(), state: 'offline' }, facts(), now)).toBe(true);
    expect(heartbeatIsVisible(onlineBefore(facts(), 90_000), facts(), now)).toBe(true);
    expect(heartbeatIsVisible({ state: 'offline', lastSeenAt: null, facts: null }, facts(), now)).toBe(true);
    expect(heartbeatIsVisible(onlineBefore(null), facts(), now)).toBe(true);
  });

  it('speaks when free disk or the cache moves by 1% or more', () => {
    expect(heartbeatIsVisible(onlineBefore(), facts((f) => (f.disk.freeBytes = 75 * GiB)), now)).toBe(true);
    expect(heartbeatIsVisible(onlineBefore(), facts((f) => (f.cache.bytes = 1 * GiB)), now)).toBe(true);
    expect(heartbeatIsVisible(onlineBefore(facts((f) => (f.cache.bytes = 0))), facts(), now)).toBe(true);
  });

  it('speaks for any change to the facts a page shows', () => {
    const changes: ((f: HostFacts) => void)[] = [
      (f) => (f.os = { ...f.os, version: '15.3', release: '24.3.0' }),
      (f) => (f.hostname = 'mac-1b.local'),
      (f) => (f.disk.totalBytes = 1000 * GiB),
      (f) => (f.cache.quotaBytes = 100 * GiB),
      (f) => (f.conditions = [{ type: 'insufficient-space', neededBytes: GiB, freeBytes: 0, since: '2026-11-26T11:00:00.000Z' }]),
      (f) => (f.peer = { port: 7070, addresses: ['10.0.0.6'] }),
      (f) => (f.peer = undefined),
    ];
    for (const change of changes) expect(heartbeatIsVisible(onlineBefore(), facts(change), now)).toBe(true);
  });
});

describe('bytesMoved', () => {
  it('measures against the larger count, and zero to zero is no move', () => {
    expect(bytesMoved(0, 0)).toBe(false);
    expect(bytesMoved(0, 1)).toBe(true);
    expect(bytesMoved(100, 99)).toBe(true);
    expect(bytesMoved(1000, 995)).toBe(false);
  });
});
