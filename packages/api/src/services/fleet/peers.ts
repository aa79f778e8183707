// The tracker: which other Macs a sync job may read its image from, and whether it is one of the
// few of its site that fetch from the registry straight away (docs/peer-distribution.md). All it
// knows is in PostgreSQL (who holds: NodeImage; who fetches: open SyncJobs; load and addresses:
// node facts), so every control process gives the same answers.
import { isIP } from 'node:net';
import { Prisma } from '@cider/db';
import type { PeerCandidate, PeerPlan } from '@cider/protocol';
import { AppError } from '../../errors.ts';
import type { ServiceDeps } from '../deps.ts';
import { claimOrigin, notFlaggedFor } from '../sync/transitions.ts';
import { sharedRead } from '../shared-read.ts';
import { staleAfterMs } from './overview.ts';
import { ticketForPeer } from './peer-tickets.ts';
import { subnetsOf } from './subnets.ts';

/** What planning reads of a job and its node. */
export interface PlannedJob {
  id: string;
  nodeId: string;
  digest: string;
  origin: boolean;
  node: { id: string; labels: unknown; facts: unknown; conditions: unknown };
}

/** Candidates per plan: enough to spread the load, few enough that tickets stay cheap. */
export const maxPeerCandidates = 8;
/** Nodes each registry fetcher feeds, by default: a site of N nodes has ceil(N / 4) origins. */
export const defaultPeerFanOut = 4;
/** Candidates read (one more than 64, for the reader itself) before those without a usable address are left out and the rest capped. */
const maxCandidateScan = 65;
/** The protocol's limit on a candidate's urls. */
const maxUrls = 8;

/** Where a node is, as the tracker groups nodes: its site label, else its subnets. */
type Locality = { kind: 'site'; site: string } | { kind: 'subnet'; subnets: Set<string> };

interface PeerFacts {
  port: number;
  addresses: string[];
}

/** What of the stored facts the tracker uses, checked (facts are JSON an agent sent). */
function peerFactsOf(raw: unknown): PeerFacts | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const { port, addresses } = raw as { port?: unknown; addresses?: unknown };
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535 || !Array.isArray(addresses)) return undefined;
  return { port, addresses: addresses.filter((a): a is string => typeof a === 'string') };
}

/** `http://<address>:<port>` for each address another Mac can dial; zone-scoped and non-IP addresses are left out. */
export function peerUrls(peer: PeerFacts): string[] {
  const urls: string[] = [];
  for (const address of peer.addresses) {
    if (address.includes('%')) continue;
    const version = isIP(address);
    if (version === 4) urls.push(`http://${address}:${peer.port}`);
    else if (version === 6) urls.push(`http://[${address}]:${peer.port}`);
    if (urls.length === maxUrls) break;
  }
  return urls;
}

function localityOf(node: { labels: unknown; facts: unknown }): Locality {
  const site = (node.labels as Record<string, unknown> | null)?.site;
  if (typeof site === 'string' && site !== '') return { kind: 'site', site };
  return { kind: 'subnet', subnets: new Set(subnetsOf(peerFactsOf((node.facts as { peer?: unknown } | null)?.peer)?.addresses)) };
}

/**
 * The nodes of the reader's group, as an SQL condition on `n`: the same site label; or, for a
 * reader without one, nodes without one that share a subnet with it (Node.peerSubnets, worked out
 * from the facts when they are stored: addresses are agent-sent text that SQL's inet would throw on).
 */
function groupCondition(locality: Locality): Prisma.Sql {
  if (locality.kind === 'site') return Prisma.sql`n.labels->>'site' = ${locality.site}`;
  if (locality.subnets.size === 0) return Prisma.sql`FALSE`;
  return Prisma.sql`coalesce(n.labels->>'site', '') = '' AND n.peer_subnets ?| ${[...locality.subnets]}::text[]`;
}

/** The advisory lock of a group and digest: origin decisions for them are made one at a time. */
function lockKey(locality: Locality, digest: string): string {
  // Subnets of different nodes overlap without being equal: all site-less readers of a digest share one lock.
  return locality.kind === 'site' ? `cider-origin site:${locality.site} ${digest}` : `cider-origin subnet ${digest}`;
}

interface GroupRow {
  id: string;
  name: string;
  peer: unknown;
  complete: boolean;
  /** Tenths of the image (of the layer being fetched) the node has verified: 10 for a holder. */
  filled: number;
}

/**
 * How long a process reuses what it read of a group's holders and fetchers of an image. A rollout
 * to a thousand Macs plans a thousand dispatches within seconds, and each would read the same
 * rows (measured: 40% of them timed out waiting for a database connection). Half a second is short
 * next to a pull, and renewals read again.
 */
const sharedReadTtlMs = 500;

function groupKey(locality: Locality, digest: string): string {
  return `${locality.kind === 'site' ? `site:${locality.site}` : `subnets:${[...locality.subnets].sort().join(',')}`} ${digest}`;
}

/** Online nodes of the group that serve peers, hold or fetch the image and are not flagged for it: holders first, then the fetchers furthest along, then the least loaded. */
function groupRows(deps: ServiceDeps, locality: Locality, group: Prisma.Sql, digest: string): Promise<GroupRow[]> {
  return sharedRead(deps, `rows ${groupKey(locality, digest)}`, sharedReadTtlMs, () => readGroupRows(deps, group, digest));
}

function readGroupRows(deps: ServiceDeps, group: Prisma.Sql, digest: string): Promise<GroupRow[]> {
  const cutoff = new Date(Date.now() - staleAfterMs);
  const number = (path: Prisma.Sql) => Prisma.sql`CASE WHEN jsonb_typeof(${path}) = 'number' THEN (${path})::numeric ELSE 0 END`;
  // From the image's side (indexed by digest): its holders and fetchers, then which of them qualify.
  return deps.db.$queryRaw<GroupRow[]>`
    WITH interested AS (
      SELECT node_id, bool_or(complete) AS complete, max(filled) AS filled FROM (
        SELECT node_id, TRUE AS complete, 10 AS filled FROM node_images WHERE digest = ${digest}
        UNION ALL
        -- A fetcher's verified pieces, as its agent last reported them: tenths of the layer it is on.
        SELECT node_id, FALSE,
          CASE WHEN jsonb_typeof(pieces->'done') = 'number' AND jsonb_typeof(pieces->'total') = 'number' AND (pieces->>'total')::numeric > 0
               THEN least(10, floor(10 * (pieces->>'done')::numeric / (pieces->>'total')::numeric))::int ELSE 0 END
        FROM sync_jobs WHERE digest = ${digest} AND state IN ('dispatched', 'pulling')
      ) held GROUP BY node_id
    )
    SELECT n.id::text AS id, n.name, n.facts->'peer' AS peer, i.complete, i.filled
    FROM interested i JOIN nodes n ON n.id = i.node_id
    WHERE n.revoked_at IS NULL AND n.state = 'online' AND n.last_seen_at > ${cutoff}
      AND (${group}) AND jsonb_typeof(n.facts->'peer'->'port') = 'number'
      AND ${notFlaggedFor(digest)}
    ORDER BY i.complete DESC, i.filled DESC, ${number(Prisma.sql`n.facts->'peer'->'uploadsInFlight'`)}, ${number(Prisma.sql`n.facts->'peer'->'uploadedBytes'`)}, n.id
    LIMIT ${maxCandidateScan}`;
}

/**
 * The rows in an order for one reader: as read (holders first, then the furthest along, then the least loaded), with rows
 * that tie shuffled, so a thousand readers planned from the same rows of equally idle nodes do not
 * all get the same eight peers.
 */
function spread(rows: GroupRow[]): GroupRow[] {
  const load = (row: GroupRow) => {
    const peer = (row.peer ?? {}) as { uploadsInFlight?: unknown; uploadedBytes?: unknown };
    return `${row.complete} ${row.filled} ${typeof peer.uploadsInFlight === 'number' ? peer.uploadsInFlight : 0} ${typeof peer.uploadedBytes === 'number' ? peer.uploadedBytes : 0}`;
  };
  const result: GroupRow[] = [];
  for (let start = 0; start < rows.length; ) {
    let end = start + 1;
    while (end < rows.length && load(rows[end]!) === load(rows[start]!)) end++;
    const tie = rows.slice(start, end);
    for (let i = tie.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [tie[i], tie[j]] = [tie[j]!, tie[i]!];
    }
    result.push(...tie);
    start = end;
  }
  return result;
}

/**
 * The peer plan of a sync job: up to 8 other nodes of the reader's site (or subnet) that are
 * online, serve peers, carry no bad-peer-data condition for the digest, and hold the image or are
 * fetching it; holders first, then the fetchers that have verified more of it (by tenths, from
 * their progress reports), then the least loaded. Each comes with a ticket for this reader,
 * that server and the job's manifest digest.
 *
 * `origin` is decided once per job and kept on its row: the job fetches from the registry at once
 * when no node of its group holds the image and fewer than k = max(1, ceil(wanting / fanOut)) of
 * its group's running jobs for the digest do (wanting: the group's nodes with an open job for it).
 * Decided under an advisory lock per group and digest, so any number of control processes
 * planning at once pick exactly k.
 */
export async function peerPlanFor(
  deps: ServiceDeps,
  job: { syncJobId: string; nodeId: string; digest: string },
  options: { fanOut?: number; /** The job's row and node as the caller just read them (the dispatcher has). */ known?: PlannedJob } = {},
): Promise<PeerPlan> {
  const { db } = deps;
  const row =
    options.known?.id === job.syncJobId
      ? options.known
      : await db.syncJob.findUnique({ where: { id: job.syncJobId }, include: { node: { select: { id: true, labels: true, facts: true, conditions: true } } } });
  if (!row || row.nodeId !== job.nodeId || row.digest !== job.digest) throw new AppError('NOT_FOUND', `No sync job ${job.syncJobId} of node ${job.nodeId} for ${job.digest}`);
  const { digest } = row;
  const locality = localityOf(row.node);
  const group = groupCondition(locality);
  const rows = await groupRows(deps, locality, group, digest);
  const candidates: PeerCandidate[] = [];
  for (const node of spread(rows.filter((r) => r.id !== row.nodeId))) {
    const peer = peerFactsOf(node.peer);
    const urls = peer ? peerUrls(peer) : [];
    if (urls.length === 0) continue;
    candidates.push({ nodeId: node.id, name: node.name.slice(0, 100), urls, ticket: ticketForPeer(deps, { reader: row.nodeId, server: node.id, digest }), complete: node.complete });
    if (candidates.length === maxPeerCandidates) break;
  }
  // A node flagged for serving bad data of this image feeds nobody: what it fetches from the
  // registry would be fetched again by every other node, so it is no origin (any more).
  if (flaggedFor(row.node.conditions, digest)) return { origin: false, candidates };
  const origin = row.origin || (await planOrigin(deps, row.id, digest, locality, group, candidates, options.fanOut ?? deps.peerFanOut ?? defaultPeerFanOut));
  return { origin, candidates };
}

function flaggedFor(conditions: unknown, digest: string): boolean {
  return Array.isArray(conditions) && conditions.some((c) => typeof c === 'object' && c !== null && (c as { type?: unknown }).type === 'bad-peer-data' && (c as { digest?: unknown }).digest === digest);
}

/** Whether the job becomes one of its group's registry fetchers (and, if so, records it). */
async function planOrigin(deps: ServiceDeps, syncJobId: string, digest: string, locality: Locality, group: Prisma.Sql, candidates: PeerCandidate[], fanOut: number): Promise<boolean> {
  // A holder feeds the group: nobody needs the registry.
  if (candidates.some((c) => c.complete)) return false;
  // Read before the lock: k only sizes the answer, and a job created meanwhile changes it by a fraction.
  const [wanting] = await sharedRead(
    deps,
    `wanting ${groupKey(locality, digest)}`,
    sharedReadTtlMs,
    () => deps.db.$queryRaw<{ nodes: bigint }[]>`
      SELECT count(DISTINCT j.node_id) AS nodes FROM sync_jobs j JOIN nodes n ON n.id = j.node_id
      WHERE j.digest = ${digest} AND j.state IN ('queued', 'dispatched', 'pulling') AND n.revoked_at IS NULL AND (${group})`,
  );
  // The reader's own node wants it, whether or not its group condition names it.
  const k = Math.max(1, Math.ceil(Math.max(1, Number(wanting?.nodes ?? 0)) / Math.max(1, Math.floor(fanOut))));
  return claimOrigin(deps.db, { syncJobId, digest, lock: lockKey(locality, digest), group, k });
}

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Fresh peers for a job its agent is running (its answer to peers.renew): only for the node the
 * job belongs to, only while the job is unfinished and not being cancelled, like a fresh grant.
 */
export async function peerPlanForRenewal(deps: ServiceDeps, nodeId: string, jobId: string, options: { fanOut?: number } = {}): Promise<PeerPlan> {
  const job = uuid.test(jobId) ? await deps.db.syncJob.findUnique({ where: { id: jobId }, include: { node: { select: { revokedAt: true } } } }) : null;
  if (!job || job.nodeId !== nodeId) throw new AppError('NOT_FOUND', `Node ${nodeId} asked for peers of unknown sync job ${jobId}`);
  if (job.node.revokedAt) throw new AppError('FORBIDDEN', 'This node was revoked by an admin.');
  if (job.state !== 'queued' && job.state !== 'dispatched' && job.state !== 'pulling') throw new AppError('CONFLICT', `Sync job ${jobId} is ${job.state}: it gets no new peers.`);
  return peerPlanFor(deps, { syncJobId: job.id, nodeId, digest: job.digest }, options);
}
