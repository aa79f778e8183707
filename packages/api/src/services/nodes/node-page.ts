// The nodes list at fleet scale: one page of nodes, searched, filtered, sorted and counted on the
// server. A thousand nodes fit in one narrow read (no facts beyond the few shown); their sync state
// needs every node's pins, so filtering by it, sorting and paging happen here after that read, and
// only the page goes to the browser. Cache size and image count come from the same rows (the
// inventory), so they always agree: the heartbeat's cache figure arrives up to 15 s after it.
// The overview's "needs attention" links land here, filtered by that list's own rules.
import { Prisma, type NodeState } from '@cider/db';
import { nodeCondition, type NodeCondition } from '@cider/protocol';
import { z } from 'zod';
import type { ServiceDeps } from '../deps.ts';
import { activeNode, inAttention } from '../fleet/attention-sql.ts';
import { DesiredState } from '../fleet/desired-state.ts';
import { controlConditionsOf, nodeStatus, type NodeStatus } from '../fleet/overview.ts';
import { isOffline } from '../fleet/served-sql.ts';
import { asLabels } from '../projects/projects.ts';

export const nodeSortKeys = ['name', 'state', 'lastSeen', 'cache', 'diskFree'] as const;
export const nodeStateFilters = ['online', 'offline', 'revoked'] as const;
export const nodeSyncStates = ['in-sync', 'behind', 'fetching', 'failed'] as const;
/** The sync states, and drift: missing a pinned image nobody fetches (the overview's group). */
export const nodeSyncFilters = [...nodeSyncStates, 'drift'] as const;
export type NodeSortKey = (typeof nodeSortKeys)[number];
export type NodeSyncState = (typeof nodeSyncStates)[number];

export interface NodePageQuery {
  /** Part of the node's name, any case. */
  search?: string;
  /** `key=value` (that label with that value) or `key` (the label set at all). */
  label?: string;
  site?: string;
  state?: (typeof nodeStateFilters)[number];
  sync?: (typeof nodeSyncFilters)[number];
  /** `any`: a standing condition, as the overview's attention list counts them. */
  condition?: 'any';
  /** `low`: less than a tenth of the disk free, as the overview counts it. */
  disk?: 'low';
  sort: NodeSortKey;
  direction: 'asc' | 'desc';
  page: number;
  pageSize: number;
  /** Keyset for the REST API's cursor (name order only): rows named after this one. */
  afterName?: string;
}

export interface NodeSync {
  state: NodeSyncState;
  /** Pinned digests the node holds, of those it should. */
  held: number;
  pinned: number;
  /** Of the images being fetched, when their sizes are known. */
  percent: number | null;
}

interface NodeListRow {
  id: string;
  name: string;
  labels: Prisma.JsonValue;
  state: string;
  lastSeenAt: Date | null;
  revokedAt: Date | null;
  decommissionedAt: Date | null;
  agentVersion: string | null;
  os: string | null;
  architecture: string | null;
  diskFreeBytes: bigint | null;
  diskTotalBytes: bigint | null;
  reported: Prisma.JsonValue;
  conditions: Prisma.JsonValue;
  images: bigint;
  cacheBytes: bigint;
}

interface LatestJob {
  nodeId: string;
  digest: string;
  state: string;
  bytesDone: bigint;
  bytesTotal: bigint | null;
}

function likePattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/**
 * Search, labels and every filter that is a rule in SQL. State and the overview's attention
 * groups (offline, conditions, failed, drift, low disk) use attention-sql.ts's rules, so a group's
 * count on the overview is the total here.
 */
function whereOf(query: NodePageQuery, now: Date): Prisma.Sql {
  const terms: Prisma.Sql[] = [query.state === 'revoked' ? Prisma.sql`NOT (${activeNode})` : activeNode];
  if (query.state === 'offline') terms.push(inAttention('offline', now));
  if (query.state === 'online') terms.push(Prisma.sql`NOT ${isOffline(now)}`);
  if (query.condition === 'any') terms.push(inAttention('condition', now));
  if (query.disk === 'low') terms.push(inAttention('low-disk', now));
  if (query.sync === 'failed' || query.sync === 'drift') terms.push(inAttention(query.sync, now));
  if (query.search) terms.push(Prisma.sql`n.name ILIKE ${likePattern(query.search)}`);
  if (query.site) terms.push(Prisma.sql`n.labels->>'site' = ${query.site}`);
  if (query.label) {
    const [key = '', ...rest] = query.label.split('=');
    terms.push(rest.length ? Prisma.sql`n.labels->>${key.trim()} = ${rest.join('=').trim()}` : Prisma.sql`n.labels->>${key.trim()} IS NOT NULL`);
  }
  return Prisma.join(terms, ' AND ');
}

/**
 * Where a node stands with its pins: every one held; failed when a missing one's last sync failed
 * (the overview's failed group: a person must look, so it outranks a fetch of another image);
 * fetching; or behind (queued, a retry pending, or nobody fetching it).
 */
export function syncOf(pinned: string[], held: (digest: string) => boolean, latest: (digest: string) => LatestJob | undefined): NodeSync {
  const missing = pinned.filter((digest) => !held(digest));
  const base = { held: pinned.length - missing.length, pinned: pinned.length, percent: null };
  if (missing.length === 0) return { state: 'in-sync', ...base };
  const jobs = missing.map(latest).filter((job): job is LatestJob => job !== undefined);
  if (jobs.some((job) => job.state === 'failed')) return { state: 'failed', ...base };
  const moving = jobs.filter((job) => job.state === 'dispatched' || job.state === 'pulling');
  if (moving.length > 0) {
    const total = moving.reduce((sum, job) => sum + Number(job.bytesTotal ?? 0), 0);
    const done = moving.reduce((sum, job) => sum + Number(job.bytesDone), 0);
    return { state: 'fetching', ...base, percent: total > 0 ? Math.min(100, Math.floor((done / total) * 100)) : null };
  }
  return { state: 'behind', ...base };
}

const statusOrder: Record<NodeStatus, number> = { online: 0, offline: 1, revoked: 2 };
const conditionList = z.array(nodeCondition).max(8);

function compareBy(key: NodeSortKey) {
  type Row = { name: string; status: NodeStatus; lastSeenAt: Date | null; cacheBytes: number; diskFreeBytes: number | null };
  const value = (row: Row): number =>
    key === 'state' ? statusOrder[row.status] : key === 'lastSeen' ? (row.lastSeenAt?.getTime() ?? 0) : key === 'cache' ? row.cacheBytes : (row.diskFreeBytes ?? -1);
  return (a: Row, b: Row) => (key === 'name' ? 0 : value(a) - value(b));
}

/** One page of nodes and how many match in all. */
export async function nodePage(deps: ServiceDeps, query: NodePageQuery, now = Date.now()) {
  const [rows, projects] = await Promise.all([
    deps.db.$queryRaw<NodeListRow[]>`
      SELECT n.id::text AS id, n.name, n.labels, n.state::text AS state, n.last_seen_at AS "lastSeenAt", n.revoked_at AS "revokedAt",
        n.decommissioned_at AS "decommissionedAt", n.agent_version AS "agentVersion",
        CASE WHEN n.facts IS NULL THEN NULL ELSE concat_ws(' ', n.facts->'os'->>'platform', n.facts->'os'->>'release') END AS os,
        n.facts->>'architecture' AS architecture,
        (n.facts->'disk'->>'freeBytes')::bigint AS "diskFreeBytes", (n.facts->'disk'->>'totalBytes')::bigint AS "diskTotalBytes",
        COALESCE(n.facts->'conditions', '[]'::jsonb) AS reported, n.conditions,
        COALESCE(i.images, 0) AS images, COALESCE(i.bytes, 0)::bigint AS "cacheBytes"
      FROM nodes n
      LEFT JOIN (SELECT node_id, count(*) AS images, sum(size) AS bytes FROM node_images GROUP BY node_id) i ON i.node_id = n.id
      WHERE ${whereOf(query, new Date(now))}
      ORDER BY n.name`,
    deps.db.project.findMany({ select: { id: true, nodeSelector: true, pins: { select: { digest: true } } } }),
  ]);
  const desired = new DesiredState(rows, projects);
  const pinnedDigests = [...new Set(projects.flatMap((p) => p.pins.map((pin) => pin.digest)))];
  const [held, jobs] = pinnedDigests.length
    ? await Promise.all([
        deps.db.nodeImage.findMany({ where: { digest: { in: pinnedDigests } }, select: { nodeId: true, digest: true } }),
        deps.db.$queryRaw<LatestJob[]>`
          SELECT DISTINCT ON (node_id, digest) node_id::text AS "nodeId", digest, state::text AS state, bytes_done AS "bytesDone", bytes_total AS "bytesTotal"
          FROM sync_jobs WHERE digest = ANY(${pinnedDigests}) ORDER BY node_id, digest, created_at DESC`,
      ])
    : [[], []];
  const heldSet = new Set(held.map((h) => `${h.nodeId} ${h.digest}`));
  const latestJob = new Map(jobs.map((job) => [`${job.nodeId} ${job.digest}`, job]));

  const all = rows.map((row) => ({
    ...row,
    status: nodeStatus({ state: row.state as NodeState, lastSeenAt: row.lastSeenAt, revokedAt: row.revokedAt }, now),
    sync: syncOf([...desired.pinsOf(row.id).keys()], (d) => heldSet.has(`${row.id} ${d}`), (d) => latestJob.get(`${row.id} ${d}`)),
    cacheBytes: Number(row.cacheBytes),
    diskFreeBytes: row.diskFreeBytes === null ? null : Number(row.diskFreeBytes),
  }));
  // Failed and drift were filtered in SQL; the other sync states are the rows' own.
  const bySync = query.sync === 'in-sync' || query.sync === 'behind' || query.sync === 'fetching' ? query.sync : undefined;
  const matching = all.filter((row) => (!bySync || row.sync.state === bySync) && (query.afterName === undefined || row.name > query.afterName));
  const compare = compareBy(query.sort);
  const sign = query.direction === 'desc' ? -1 : 1;
  // Rows arrive ordered by name: a stable sort keeps name order among equals, so rows never swap.
  matching.sort((a, b) => sign * compare(a, b) || (query.sort === 'name' ? sign : 1) * (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const pages = Math.max(1, Math.ceil(matching.length / query.pageSize));
  const page = Math.min(query.page, pages);
  const shown = matching.slice((page - 1) * query.pageSize, page * query.pageSize);
  return {
    total: matching.length,
    page,
    pages,
    pageSize: query.pageSize,
    rows: shown.map((row) => ({
      id: row.id,
      name: row.name,
      status: row.status,
      decommissionedAt: row.decommissionedAt,
      labels: asLabels(row.labels),
      lastSeenAt: row.lastSeenAt,
      agentVersion: row.agentVersion,
      os: row.os,
      architecture: row.architecture,
      diskFreeBytes: row.diskFreeBytes,
      diskTotalBytes: row.diskTotalBytes === null ? null : Number(row.diskTotalBytes),
      cacheBytes: row.cacheBytes,
      images: Number(row.images),
      sync: row.sync,
      conditions: [...parsedConditions(row.reported), ...controlConditionsOf(row)] as NodeCondition[],
    })),
  };
}

function parsedConditions(value: Prisma.JsonValue): NodeCondition[] {
  const parsed = conditionList.safeParse(value);
  return parsed.success ? parsed.data : [];
}

/** Up to `limit` nodes whose name contains `query` (any case), names first that start with it: the jobs page's node search. */
export async function searchNodes(deps: ServiceDeps, input: { query?: string; id?: string; limit: number }) {
  if (input.id) return deps.db.node.findMany({ where: { id: input.id }, select: { id: true, name: true } });
  const text = input.query?.trim() ?? '';
  return deps.db.$queryRaw<{ id: string; name: string }[]>`
    SELECT id::text AS id, name FROM nodes
    WHERE name ILIKE ${likePattern(text)}
    ORDER BY (name ILIKE ${`${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`}) DESC, name
    LIMIT ${input.limit}`;
}
