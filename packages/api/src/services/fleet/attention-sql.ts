// What puts a node in each of the overview's "needs attention" groups, in SQL over a node aliased
// `n`. One definition for both readers: the overview counts each group with these, and the nodes
// list filters by them, so a group's count and the list its link opens are the same nodes.
import { Prisma } from '@cider/db';
import { isOffline, openJobs, servedPins } from './served-sql.ts';

/** A disk with less than this share free is low (a pull of a 60 GiB image needs room). */
export const lowDiskShare = 0.1;

/**
 * Why a node needs a look, in the order the groups come: conditions (the agent or the control
 * plane asked for a person), silence, failed syncs, a pinned image neither held nor being fetched
 * (drift; an offline node's missing images are its silence's), a low disk.
 */
export const attentionKinds = ['condition', 'offline', 'failed', 'drift', 'low-disk'] as const;
export type AttentionKind = (typeof attentionKinds)[number];

/** The nodes that count at all: not revoked (nodeStatus's rule: either mark means revoked). */
export const activeNode = Prisma.sql`n.revoked_at IS NULL AND n.state::text <> 'revoked'`;

/** A standing condition: one its agent reports, or one the control plane raised. */
export const hasCondition = Prisma.sql`COALESCE((jsonb_typeof(n.conditions) = 'array' AND jsonb_array_length(n.conditions) > 0)
  OR (jsonb_typeof(n.facts -> 'conditions') = 'array' AND jsonb_array_length(n.facts -> 'conditions') > 0), false)`;

export const isLowDisk = Prisma.sql`COALESCE((n.facts #>> '{disk,freeBytes}')::float8 < ${lowDiskShare} * NULLIF((n.facts #>> '{disk,totalBytes}')::float8, 0), false)`;

/**
 * Per node with a pinned image it does not hold: node_id, failed (such images whose last sync
 * failed) and drift (such images with no sync open and no failure: nobody is fetching them). A
 * sync being retried is open, so neither.
 */
export const pinSyncs = Prisma.sql`
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
  )
  SELECT node_id,
         COUNT(*) FILTER (WHERE last_state = 'failed') AS failed,
         COUNT(*) FILTER (WHERE open_state IS NULL AND last_state IS DISTINCT FROM 'failed') AS drift
  FROM missing GROUP BY node_id`;

/**
 * Whether the node `n` belongs to a group (given it is active): a condition, silence, a failed
 * sync, drift (an offline node's missing images are its silence's, not drift), a low disk.
 */
export function inAttention(kind: AttentionKind, now: Date): Prisma.Sql {
  switch (kind) {
    case 'condition':
      return hasCondition;
    case 'offline':
      return isOffline(now);
    case 'failed':
      return Prisma.sql`n.id IN (SELECT node_id FROM (${pinSyncs}) syncs WHERE syncs.failed > 0)`;
    case 'drift':
      return Prisma.sql`(NOT ${isOffline(now)} AND n.id IN (SELECT node_id FROM (${pinSyncs}) syncs WHERE syncs.drift > 0))`;
    case 'low-disk':
      return isLowDisk;
  }
}
