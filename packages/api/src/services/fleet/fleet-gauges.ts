// The fleet's state as a handful of numbers, for the control plane's /metrics: sync jobs by
// state, nodes online and offline, nodes in each "needs attention" group (the overview's rules,
// attention-sql.ts), pinned images nodes do not hold by why, and frozen pins whose tag moved.
// Three aggregate queries, each bounded by the fleet's size and none returning rows per node;
// the caller caches the answer for a few seconds so scrapes cost PostgreSQL little.
import type { SyncJobState } from '@cider/db';
import type { ServiceDeps } from '../deps.ts';
import { syncJobStates } from '../sync/lifecycle.ts';
import { activeNode, attentionKinds, hasCondition, isLowDisk, pinSyncs, type AttentionKind } from './attention-sql.ts';
import { isOffline, openJobs, servedPins } from './served-sql.ts';

/**
 * Why a node does not hold an image its projects pin: its node is offline, a sync is open
 * (syncing), its last sync failed, or nobody is fetching it (drift).
 */
export const missingReasons = ['offline', 'syncing', 'failed', 'drift'] as const;
export type MissingReason = (typeof missingReasons)[number];

export interface FleetGauges {
  syncJobs: Record<SyncJobState, number>;
  nodes: { online: number; offline: number };
  attention: Record<AttentionKind, number>;
  /** (node, pinned digest) pairs the node does not hold, by why. Their sum is what a rollout still has to do. */
  missing: Record<MissingReason, number>;
  /** Frozen pins whose tag now points elsewhere upstream. */
  tagMoved: number;
}

export async function fleetGauges(deps: ServiceDeps, now = new Date()): Promise<FleetGauges> {
  const [jobRows, [nodeRow], [missingRow], tagMoved] = await Promise.all([
    // sync_jobs(state) is indexed: a count per state reads the index only.
    deps.db.$queryRaw<{ state: string; count: bigint }[]>`SELECT state::text AS state, COUNT(*) AS count FROM sync_jobs GROUP BY state`,
    deps.db.$queryRaw<{ online: bigint; offline: bigint; condition: bigint; failed: bigint; drift: bigint; low_disk: bigint }[]>`
      WITH syncs AS (${pinSyncs}),
      flags AS (
        SELECT ${hasCondition} AS condition, COALESCE(syncs.failed, 0) AS failed,
               CASE WHEN ${isOffline(now)} THEN 0 ELSE COALESCE(syncs.drift, 0) END AS drift,
               ${isLowDisk} AS low_disk, ${isOffline(now)} AS offline
        FROM nodes n LEFT JOIN syncs ON syncs.node_id = n.id
        WHERE ${activeNode}
      )
      SELECT COUNT(*) FILTER (WHERE NOT offline) AS online, COUNT(*) FILTER (WHERE offline) AS offline,
             COUNT(*) FILTER (WHERE condition) AS condition, COUNT(*) FILTER (WHERE failed > 0) AS failed,
             COUNT(*) FILTER (WHERE drift > 0) AS drift, COUNT(*) FILTER (WHERE low_disk) AS low_disk
      FROM flags`,
    deps.db.$queryRaw<Record<MissingReason, bigint>[]>`
      WITH wanted AS (SELECT DISTINCT node_id, digest FROM (${servedPins}) s),
      open_jobs AS (${openJobs}),
      missing AS (
        SELECT ${isOffline(now)} AS offline, j.node_id IS NOT NULL AS open,
               (SELECT state::text FROM sync_jobs sj WHERE sj.node_id = w.node_id AND sj.digest = w.digest ORDER BY created_at DESC LIMIT 1) AS last_state
        FROM wanted w
        JOIN nodes n ON n.id = w.node_id AND ${activeNode}
        LEFT JOIN node_images ni ON ni.node_id = w.node_id AND ni.digest = w.digest
        LEFT JOIN open_jobs j ON j.node_id = w.node_id AND j.digest = w.digest
        WHERE ni.node_id IS NULL
      )
      SELECT COUNT(*) FILTER (WHERE offline) AS offline,
             COUNT(*) FILTER (WHERE NOT offline AND open) AS syncing,
             COUNT(*) FILTER (WHERE NOT offline AND NOT open AND last_state = 'failed') AS failed,
             COUNT(*) FILTER (WHERE NOT offline AND NOT open AND last_state IS DISTINCT FROM 'failed') AS drift
      FROM missing`,
    deps.db.pin.count({ where: { mode: 'frozen', driftDigest: { not: null } } }),
  ]);
  const syncJobs = Object.fromEntries(syncJobStates.map((state) => [state, 0])) as Record<SyncJobState, number>;
  for (const row of jobRows) if ((syncJobStates as readonly string[]).includes(row.state)) syncJobs[row.state as SyncJobState] = Number(row.count);
  const attention = Object.fromEntries(attentionKinds.map((kind) => [kind, 0])) as Record<AttentionKind, number>;
  attention.condition = Number(nodeRow?.condition ?? 0);
  attention.offline = Number(nodeRow?.offline ?? 0);
  attention.failed = Number(nodeRow?.failed ?? 0);
  attention.drift = Number(nodeRow?.drift ?? 0);
  attention['low-disk'] = Number(nodeRow?.low_disk ?? 0);
  const missing = Object.fromEntries(missingReasons.map((reason) => [reason, Number(missingRow?.[reason] ?? 0)])) as Record<MissingReason, number>;
  return { syncJobs, nodes: { online: Number(nodeRow?.online ?? 0), offline: Number(nodeRow?.offline ?? 0) }, attention, missing, tagMoved };
}
