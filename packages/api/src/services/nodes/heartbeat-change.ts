// Whether a heartbeat changed anything a page shows. A thousand nodes heartbeat every 15 s; if each
// published node.updated, every open tab would refetch several times a second to show the same
// thing. A heartbeat is news only when the node comes (back) online, or its host facts changed in a
// way an admin could see: anything but the two byte counts that drift all the time (free disk,
// cache size), which count once they move by 1% or more, and the peer server's upload counters.
import type { HostFacts } from '@cider/protocol';
import type { NodeState } from '@cider/db';
import { staleAfterMs } from '../fleet/overview.ts';

export interface NodeBeforeHeartbeat {
  state: NodeState;
  lastSeenAt: Date | null;
  facts: HostFacts | null;
}

/** Byte counts closer than this share of the larger one look the same in the dashboard. */
export const bytesChangeShare = 0.01;

/** Whether two byte counts differ by at least bytesChangeShare of the larger one. */
export function bytesMoved(before: number, after: number): boolean {
  const larger = Math.max(before, after);
  return larger > 0 && Math.abs(after - before) >= larger * bytesChangeShare;
}

/** The facts as pages show them, without the drifting counts (compared on their own). */
function steadyFacts(facts: HostFacts) {
  return {
    hostname: facts.hostname,
    os: facts.os,
    architecture: facts.architecture,
    cpu: facts.cpu,
    memoryBytes: facts.memoryBytes,
    diskTotalBytes: facts.disk.totalBytes,
    cachePath: facts.cache.path,
    cacheQuotaBytes: facts.cache.quotaBytes ?? null,
    conditions: facts.conditions,
    peer: facts.peer ? { port: facts.peer.port, addresses: facts.peer.addresses } : null,
  };
}

/** True when the heartbeat `after` changes what some page shows about the node described by `before`. */
export function heartbeatIsVisible(before: NodeBeforeHeartbeat, after: HostFacts, now: number): boolean {
  // Offline (by its row or by silence) turning online: the status badge changes.
  if (before.state !== 'online' || !before.lastSeenAt || now - before.lastSeenAt.getTime() >= staleAfterMs) return true;
  if (!before.facts) return true;
  if (bytesMoved(before.facts.disk.freeBytes, after.disk.freeBytes)) return true;
  if (bytesMoved(before.facts.cache.bytes, after.cache.bytes)) return true;
  return canonical(steadyFacts(before.facts)) !== canonical(steadyFacts(after));
}

/** JSON with object keys sorted: stored facts come back from jsonb with their keys reordered. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}
