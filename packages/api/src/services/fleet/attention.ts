// The overview's "needs attention": nodes a person should look at, and why. Counted over the
// whole fleet in PostgreSQL; only the first few nodes come back with their details, each kind
// with its count so the page can link to the nodes list filtered to it.
import type { NodeCondition } from '@cider/protocol';
import { Prisma } from '@cider/db';
import type { ServiceDeps } from '../deps.ts';
import { conditionsOf, factsOf } from './overview.ts';
import { isOffline, openJobs, servedPins } from './served-sql.ts';

/** The nodes listed; the counts cover all of them. */
export const attentionShown = 10;
/** A disk with less than this share free is low (a pull of a 60 GiB image needs room). */
export const lowDiskShare = 0.1;

/**
 * Why a node needs a look, in the order the list ranks them: conditions (the agent or the control
 * plane asked for a person), failed syncs, a pinned image neither held nor being fetched (drift),
 * a low disk, then silence.
 */
export const attentionKinds = ['condition', 'failed', 'drift', 'low-disk', 'offline'] as const;
export type AttentionKind = (typeof attentionKinds)[number];

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

export interface Attention {
  counts: Record<AttentionKind, number>;
  /** Nodes with at least one kind. */
  total: number;
  nodes: AttentionNode[];
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
  const flagged = Prisma.sql`
    WITH wanted AS (SELECT DISTINCT node_id, digest FROM (${servedPins}) s),
    open_jobs AS (${openJobs}),
    missing AS (
      SELECT w.node_id,
             (SELECT state::text FROM sync_jobs sj WHERE sj.node_id = w.node_id AND sj.digest = w.digest ORDER BY created_at DESC LIMIT 1) AS last_state,
             j.state AS open_state
      FROM wanted w
      LEFT JOIN node_images ni ON ni.node_id = w.node_id AND ni.digest = w.digest
      LEFT JOIN open_jobs j ON j.node_id = w.node_id AND j.digest = w.digest
      WHERE ni.node_id IS NULL
    ),
    syncs AS (
      SELECT node_id,
             COUNT(*) FILTER (WHERE last_state = 'failed') AS failed,
             COUNT(*) FILTER (WHERE open_state IS NULL AND last_state IS DISTINCT FROM 'failed') AS drift
      FROM missing GROUP BY node_id
    ),
    flags AS (
      SELECT n.id, n.name,
             COALESCE((jsonb_typeof(n.conditions) = 'array' AND jsonb_array_length(n.conditions) > 0)
               OR (jsonb_typeof(n.facts -> 'conditions') = 'array' AND jsonb_array_length(n.facts -> 'conditions') > 0), false) AS condition,
             COALESCE(syncs.failed, 0) AS failed,
             CASE WHEN ${isOffline(now)} THEN 0 ELSE COALESCE(syncs.drift, 0) END AS drift,
             COALESCE((n.facts #>> '{disk,freeBytes}')::float8 < ${lowDiskShare} * NULLIF((n.facts #>> '{disk,totalBytes}')::float8, 0), false) AS low_disk,
             ${isOffline(now)} AS offline
      FROM nodes n LEFT JOIN syncs ON syncs.node_id = n.id
      WHERE n.revoked_at IS NULL
    )
    SELECT * FROM flags WHERE condition OR failed > 0 OR drift > 0 OR low_disk OR offline`;

  const [[counts], top] = await Promise.all([
    deps.db.$queryRaw<{ total: bigint; condition: bigint; failed: bigint; drift: bigint; low_disk: bigint; offline: bigint }[]>`
      WITH flagged AS (${flagged})
      SELECT COUNT(*) AS total, COUNT(*) FILTER (WHERE condition) AS condition, COUNT(*) FILTER (WHERE failed > 0) AS failed,
             COUNT(*) FILTER (WHERE drift > 0) AS drift, COUNT(*) FILTER (WHERE low_disk) AS low_disk, COUNT(*) FILTER (WHERE offline) AS offline
      FROM flagged`,
    deps.db.$queryRaw<Row[]>`
      WITH flagged AS (${flagged})
      SELECT id::text, condition, failed, drift, low_disk, offline FROM flagged
      ORDER BY condition DESC, (failed > 0) DESC, (drift > 0) DESC, low_disk DESC, offline DESC, name, id
      LIMIT ${attentionShown}`,
  ]);

  const details = top.length ? await deps.db.node.findMany({ where: { id: { in: top.map((r) => r.id) } } }) : [];
  const byId = new Map(details.map((n) => [n.id, n]));
  const nodes = top.flatMap((row): AttentionNode[] => {
    const node = byId.get(row.id);
    if (!node) return [];
    const facts = factsOf(node);
    const kinds = attentionKinds.filter((kind) =>
      kind === 'condition' ? row.condition : kind === 'failed' ? row.failed > 0n : kind === 'drift' ? row.drift > 0n : kind === 'low-disk' ? row.low_disk : row.offline,
    );
    return [
      {
        nodeId: node.id,
        name: node.name,
        kinds,
        conditions: conditionsOf(node),
        failed: Number(row.failed),
        drift: Number(row.drift),
        diskFreeBytes: facts?.disk.freeBytes ?? null,
        diskTotalBytes: facts?.disk.totalBytes ?? null,
        lastSeenAt: node.lastSeenAt,
      },
    ];
  });
  return {
    counts: {
      condition: Number(counts?.condition ?? 0),
      failed: Number(counts?.failed ?? 0),
      drift: Number(counts?.drift ?? 0),
      'low-disk': Number(counts?.low_disk ?? 0),
      offline: Number(counts?.offline ?? 0),
    },
    total: Number(counts?.total ?? 0),
    nodes,
  };
}
