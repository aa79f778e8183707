// A rollout's distribution, as its page charts it: how much the registry served against what a
// rollout without peers would have taken (image size × pulls), and who fed whom: the registry, a
// mirror or another Mac, by bytes. Read from the finished jobs' bytes by source (sync.done's
// `sources`, stored on the job), summed in PostgreSQL so a rollout of thousands of Macs sends the
// page at most `flowEdgeCap` flows (the largest) and says how many there were.
import { Prisma } from '@cider/db';
import { AppError } from '../../errors.ts';
import type { ServiceDeps } from '../deps.ts';
import { DesiredState } from './desired-state.ts';

/** The most flows a chart gets: past a few hundred lines nobody reads it, and the page stays small. */
export const flowEdgeCap = 200;
/** The feeders the text summary names. */
export const topFeederCount = 5;

/** A source that is not a node. */
export type ExternalSource = 'registry' | 'mirror';

export interface FlowEdge {
  /** A node id, or `registry` / `mirror`. */
  from: string;
  /** The node id that received the bytes. */
  to: string;
  bytes: number;
}

export interface RolloutFlow {
  digest: string;
  /** Nodes the project serves (the rollout's target). */
  nodes: number;
  /** Finished pulls whose sources are known, and the nodes they were on. */
  pulls: number;
  pulledNodes: number;
  /** Pulls the tracker let fetch from the registry (origins). */
  origins: number;
  /** The image's size (a holder's report, else the largest pull's total); null when nothing says. */
  imageBytes: number | null;
  registryBytes: number;
  mirrorBytes: number;
  peerBytes: number;
  /** What the registry would have served these pulls without peers or mirrors: image size × pulls. */
  withoutPeersBytes: number | null;
  /** registryBytes / withoutPeersBytes, 0..1 (more when pulls were retried from scratch); null without a size. */
  egressRatio: number | null;
  /** The largest flows, at most `flowEdgeCap`, largest first. */
  edges: FlowEdge[];
  /** How many flows there are in all; more than `edges.length` when cut. */
  edgeCount: number;
  cut: boolean;
  /** Who sent the most, over every flow (not only those shown). */
  topFeeders: { id: string; bytes: number }[];
  /** Names of the nodes the edges and feeders mention (a node since removed has none). */
  names: Record<string, string>;
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The distribution of `digest` to the nodes `projectId` serves, from their finished jobs. A node
 * that pulled the image more than once (evicted, pulled again) counts every pull.
 */
export async function rolloutFlow(deps: ServiceDeps, input: { projectId: string; digest: string }): Promise<RolloutFlow> {
  const project = await deps.db.project.findUnique({ where: { id: input.projectId } });
  if (!project) throw new AppError('NOT_FOUND', 'No such project.');
  // The same nodes the rollout table lists: its selector over the enrolled nodes.
  const nodes = await deps.db.node.findMany({ where: { revokedAt: null }, select: { id: true, labels: true, revokedAt: true } });
  const ids = new DesiredState(nodes, [{ ...project, pins: [] }]).nodesOf(project.id).map((n) => n.id);

  // Finished pulls with their sources, of this image on the rollout's nodes.
  const jobs = Prisma.sql`
    SELECT node_id, origin, bytes_total, bytes_from_registry, bytes_from_mirror, bytes_from_peers, peer_sources
    FROM sync_jobs
    WHERE digest = ${input.digest} AND state = 'done' AND bytes_from_registry IS NOT NULL AND node_id = ANY(${ids}::uuid[])`;
  // Every (source, receiver) pair with its bytes. Peer keys are node ids as the agent reported
  // them: anything else (an agent naming a peer "registry", say) is left out of the flows.
  const edges = Prisma.sql`
    WITH jobs AS (${jobs}),
    flows AS (
      SELECT 'registry' AS source, node_id::text AS target, bytes_from_registry AS bytes FROM jobs
      UNION ALL
      SELECT 'mirror', node_id::text, COALESCE(bytes_from_mirror, 0) FROM jobs
      UNION ALL
      SELECT p.key, jobs.node_id::text, p.value::bigint
      FROM jobs CROSS JOIN LATERAL jsonb_each_text(CASE WHEN jsonb_typeof(jobs.peer_sources) = 'object' THEN jobs.peer_sources ELSE '{}'::jsonb END) AS p
      WHERE p.value ~ '^[0-9]{1,18}$' AND p.key ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
    )
    SELECT source, target, SUM(bytes)::bigint AS bytes FROM flows GROUP BY source, target HAVING SUM(bytes) > 0`;

  const [[totals], shown, feeders, held] = await Promise.all([
    deps.db.$queryRaw<{ pulls: bigint; pulled_nodes: bigint; origins: bigint; registry: bigint | null; mirror: bigint | null; peers: bigint | null; largest: bigint | null }[]>`
      WITH jobs AS (${jobs})
      SELECT COUNT(*) AS pulls, COUNT(DISTINCT node_id) AS pulled_nodes, COUNT(*) FILTER (WHERE origin) AS origins,
             SUM(bytes_from_registry)::bigint AS registry, SUM(bytes_from_mirror)::bigint AS mirror, SUM(bytes_from_peers)::bigint AS peers,
             MAX(bytes_total) AS largest
      FROM jobs`,
    deps.db.$queryRaw<{ source: string; target: string; bytes: bigint; total: bigint }[]>`
      WITH edges AS (${edges})
      SELECT source, target, bytes, COUNT(*) OVER () AS total FROM edges ORDER BY bytes DESC, source, target LIMIT ${flowEdgeCap}`,
    deps.db.$queryRaw<{ source: string; bytes: bigint }[]>`
      WITH edges AS (${edges})
      SELECT source, SUM(bytes)::bigint AS bytes FROM edges GROUP BY source ORDER BY 2 DESC, 1 LIMIT ${topFeederCount}`,
    deps.db.nodeImage.findFirst({ where: { digest: input.digest }, orderBy: { verifiedAt: 'desc' }, select: { size: true } }),
  ]);

  const pulls = Number(totals?.pulls ?? 0);
  const imageBytes = held ? Number(held.size) : totals?.largest ? Number(totals.largest) : null;
  const registryBytes = Number(totals?.registry ?? 0);
  const withoutPeersBytes = imageBytes !== null && pulls > 0 ? imageBytes * pulls : null;
  const edgeList = shown.map((row) => ({ from: row.source, to: row.target, bytes: Number(row.bytes) }));
  const edgeCount = Number(shown[0]?.total ?? 0);

  const mentioned = new Set<string>();
  for (const edge of edgeList) mentioned.add(edge.from).add(edge.to);
  for (const feeder of feeders) mentioned.add(feeder.source);
  const nodeIds = [...mentioned].filter((id) => uuidPattern.test(id));
  const named = nodeIds.length ? await deps.db.node.findMany({ where: { id: { in: nodeIds } }, select: { id: true, name: true } }) : [];

  return {
    digest: input.digest,
    nodes: ids.length,
    pulls,
    pulledNodes: Number(totals?.pulled_nodes ?? 0),
    origins: Number(totals?.origins ?? 0),
    imageBytes,
    registryBytes,
    mirrorBytes: Number(totals?.mirror ?? 0),
    peerBytes: Number(totals?.peers ?? 0),
    withoutPeersBytes,
    egressRatio: withoutPeersBytes ? registryBytes / withoutPeersBytes : null,
    edges: edgeList,
    edgeCount,
    cut: edgeCount > edgeList.length,
    topFeeders: feeders.map((f) => ({ id: f.source, bytes: Number(f.bytes) })),
    names: Object.fromEntries(named.map((n) => [n.id, n.name])),
  };
}
