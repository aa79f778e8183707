// The overview's "needs attention": nodes a person should look at, grouped by why. Counted over
// the whole fleet in PostgreSQL; each group brings back only its first few nodes (with their
// details) and its count, so the page can link to the nodes list filtered to the rest.
import type { NodeCondition } from '@cider/protocol';
import { Prisma } from '@cider/db';
import type { ServiceDeps } from '../deps.ts';
import { activeNode, attentionKinds, hasCondition, isLowDisk, pinSyncs, type AttentionKind } from './attention-sql.ts';
import { conditionsOf, factsOf } from './overview.ts';
import { isOffline } from './served-sql.ts';

export { attentionKinds, lowDiskShare, type AttentionKind } from './attention-sql.ts';

/** The nodes each group lists; its count covers all of them. */
export const attentionShown = 5;

export interface AttentionNode {
  nodeId: string;
  name: string;
  kinds: AttentionKind[];
  conditions: NodeCondition[];
  /** Pinned images whose last sync failed, and those neither held nor fetched. */
  failed: number;
  drift: number;
  diskFreeBytes: number | null;
  diskTotalBytes: number | null;
  lastSeenAt: Date | null;
}

export interface AttentionGroup {
  kind: AttentionKind;
  count: number;
  /** Its first `attentionShown` nodes: conditions by name, the most recently heard from offline first, the most failed or missing images first, the fullest disk first. */
  nodes: AttentionNode[];
}

export interface Attention {
  counts: Record<AttentionKind, number>;
  /** Nodes with at least one kind. */
  total: number;
  groups: AttentionGroup[];
}

interface Row {
  id: string;
  condition: boolean;
  failed: bigint;
  drift: bigint;
  low_disk: boolean;
  offline: boolean;
}

export async function fleetAttention(deps: ServiceDeps, now = new Date()): Promise<Attention> {
  // The groups' rules are attention-sql.ts's, which the nodes list filters by too.
  const flagged = Prisma.sql`
    WITH syncs AS (${pinSyncs}),
    flags AS (
      SELECT n.id, n.name,
             ${hasCondition} AS condition,
             COALESCE(syncs.failed, 0) AS failed,
             CASE WHEN ${isOffline(now)} THEN 0 ELSE COALESCE(syncs.drift, 0) END AS drift,
             ${isLowDisk} AS low_disk,
             ${isOffline(now)} AS offline,
             n.last_seen_at,
             (n.facts #>> '{disk,freeBytes}')::float8 / NULLIF((n.facts #>> '{disk,totalBytes}')::float8, 0) AS free_share
      FROM nodes n LEFT JOIN syncs ON syncs.node_id = n.id
      WHERE ${activeNode}
    )
    SELECT * FROM flags WHERE condition OR failed > 0 OR drift > 0 OR low_disk OR offline`;

  const [[counts], top] = await Promise.all([
    deps.db.$queryRaw<{ total: bigint; condition: bigint; failed: bigint; drift: bigint; low_disk: bigint; offline: bigint }[]>`
      WITH flagged AS (${flagged})
      SELECT COUNT(*) AS total, COUNT(*) FILTER (WHERE condition) AS condition, COUNT(*) FILTER (WHERE failed > 0) AS failed,
             COUNT(*) FILTER (WHERE drift > 0) AS drift, COUNT(*) FILTER (WHERE low_disk) AS low_disk, COUNT(*) FILTER (WHERE offline) AS offline
      FROM flagged`,
    deps.db.$queryRaw<(Row & { kind: AttentionKind })[]>`
      WITH flagged AS (${flagged}),
      ranked AS (
        SELECT flagged.*, kind,
               ROW_NUMBER() OVER (PARTITION BY kind ORDER BY
                 CASE kind WHEN 'offline' THEN -COALESCE(EXTRACT(EPOCH FROM last_seen_at)::float8, 0)
                           WHEN 'failed' THEN -failed::float8 WHEN 'drift' THEN -drift::float8 WHEN 'low-disk' THEN free_share ELSE 0 END,
                 name, id) AS place
        FROM flagged
        CROSS JOIN LATERAL (VALUES ('condition', condition), ('offline', offline), ('failed', failed > 0), ('drift', drift > 0), ('low-disk', low_disk)) AS k(kind, applies)
        WHERE applies
      )
      SELECT id::text, kind, condition, failed, drift, low_disk, offline FROM ranked WHERE place <= ${attentionShown} ORDER BY kind, place`,
  ]);

  const ids = [...new Set(top.map((r) => r.id))];
  const details = ids.length ? await deps.db.node.findMany({ where: { id: { in: ids } } }) : [];
  const byId = new Map(details.map((n) => [n.id, n]));
  const view = (row: Row): AttentionNode | undefined => {
    const node = byId.get(row.id);
    if (!node) return undefined;
    const facts = factsOf(node);
    const applies: Record<AttentionKind, boolean> = { condition: row.condition, offline: row.offline, failed: row.failed > 0n, drift: row.drift > 0n, 'low-disk': row.low_disk };
    return {
      nodeId: node.id,
      name: node.name,
      kinds: attentionKinds.filter((kind) => applies[kind]),
      conditions: conditionsOf(node),
      failed: Number(row.failed),
      drift: Number(row.drift),
      diskFreeBytes: facts?.disk.freeBytes ?? null,
      diskTotalBytes: facts?.disk.totalBytes ?? null,
      lastSeenAt: node.lastSeenAt,
    };
  };
  const count: Record<AttentionKind, number> = {
    condition: Number(counts?.condition ?? 0),
    offline: Number(counts?.offline ?? 0),
    failed: Number(counts?.failed ?? 0),
    drift: Number(counts?.drift ?? 0),
    'low-disk': Number(counts?.low_disk ?? 0),
  };
  const groups = attentionKinds
    .filter((kind) => count[kind] > 0)
    .map((kind) => ({ kind, count: count[kind], nodes: top.filter((r) => r.kind === kind).flatMap((r) => view(r) ?? []) }));
  return { counts: count, total: Number(counts?.total ?? 0), groups };
}
