// "How is the rollout going?": every pinned digest some node serving its project does not hold
// yet, with nodes done / total, bytes done / total, a rate and what the registry served against
// what was delivered. Summed in PostgreSQL from the nodes' inventories and sync jobs, so the
// answer stays a few rows however many nodes there are.
import type { ServiceDeps } from '../deps.ts';
import { isServedNodeOffline, openJobs, servedPins } from './served-sql.ts';

/** The rollouts the overview lists; past this it says how many more there are. */
export const rolloutsShown = 10;

export interface RolloutInFlight {
  projectId: string;
  project: string;
  pinId: string;
  reference: string;
  digest: string;
  /** When its pin resolved to this digest. */
  startedAt: Date;
  nodes: number;
  /** Nodes holding it. */
  done: number;
  /** Online nodes pulling it now, online nodes whose job waits its turn, and offline nodes without it. */
  fetching: number;
  queued: number;
  offline: number;
  /** The image's size (a holder's report, else the largest pull's total); null while nothing says. */
  imageBytes: number | null;
  /** imageBytes × nodes, and what of it is on the nodes (held images plus pulls so far). */
  bytesTotal: number | null;
  bytesDone: number;
  /** Bytes per second over the pulls running now on online nodes (each pull's bytes over its time); 0 when none runs. */
  bytesPerSecond: number;
  /** Of the finished pulls with known sources: what the registry served, and what they delivered. */
  registryBytes: number;
  deliveredBytes: number;
}

interface Row {
  project_id: string;
  project: string;
  pin_id: string;
  reference: string;
  digest: string;
  resolved_at: Date;
  nodes: bigint;
  done: bigint;
  fetching: bigint;
  queued: bigint;
  offline: bigint;
  pulled_bytes: bigint | null;
  image_bytes: bigint | null;
  rate: number | null;
  registry_bytes: bigint | null;
  delivered_bytes: bigint | null;
  total: bigint;
}

export async function rolloutsInFlight(deps: ServiceDeps, now = new Date()): Promise<{ rollouts: RolloutInFlight[]; total: number }> {
  const rows = await deps.db.$queryRaw<Row[]>`
    WITH served AS (${servedPins}),
    open_jobs AS (${openJobs}),
    per_pin AS (
      SELECT s.project_id, s.project, s.pin_id, s.reference, s.digest, s.resolved_at,
             COUNT(*) AS nodes,
             COUNT(ni.node_id) AS done,
             COUNT(*) FILTER (WHERE ni.node_id IS NULL AND NOT ${isServedNodeOffline(now)} AND j.state IN ('dispatched', 'pulling')) AS fetching,
             COUNT(*) FILTER (WHERE ni.node_id IS NULL AND NOT ${isServedNodeOffline(now)} AND j.state = 'queued') AS queued,
             COUNT(*) FILTER (WHERE ni.node_id IS NULL AND ${isServedNodeOffline(now)}) AS offline,
             SUM(j.bytes_done) FILTER (WHERE ni.node_id IS NULL)::bigint AS pulled_bytes,
             MAX(j.bytes_total) AS job_total,
             SUM(j.bytes_done::float8 / GREATEST(1, EXTRACT(EPOCH FROM (${now}::timestamptz - j.started_at))))
               FILTER (WHERE ni.node_id IS NULL AND NOT ${isServedNodeOffline(now)} AND j.state = 'pulling' AND j.started_at IS NOT NULL) AS rate
      FROM served s
      LEFT JOIN node_images ni ON ni.node_id = s.node_id AND ni.digest = s.digest
      LEFT JOIN open_jobs j ON j.node_id = s.node_id AND j.digest = s.digest
      GROUP BY s.project_id, s.project, s.pin_id, s.reference, s.digest, s.resolved_at
      HAVING COUNT(ni.node_id) < COUNT(*)
    ),
    shown AS (
      SELECT *, COUNT(*) OVER () AS total FROM per_pin ORDER BY project, reference, pin_id LIMIT ${rolloutsShown}
    )
    SELECT shown.project_id::text, shown.project, shown.pin_id::text, shown.reference, shown.digest, shown.resolved_at,
           shown.nodes, shown.done, shown.fetching, shown.queued, shown.offline, shown.pulled_bytes, shown.rate, shown.total,
           COALESCE((SELECT size FROM node_images WHERE digest = shown.digest LIMIT 1), shown.job_total) AS image_bytes,
           delivered.registry_bytes, delivered.delivered_bytes
    FROM shown
    LEFT JOIN LATERAL (
      SELECT SUM(sj.bytes_from_registry)::bigint AS registry_bytes, SUM(sj.bytes_total)::bigint AS delivered_bytes
      FROM sync_jobs sj
      JOIN served s ON s.pin_id = shown.pin_id AND s.node_id = sj.node_id
      WHERE sj.digest = shown.digest AND sj.state = 'done' AND sj.bytes_from_registry IS NOT NULL
    ) delivered ON true
    ORDER BY shown.project, shown.reference, shown.pin_id`;

  const rollouts = rows.map((row): RolloutInFlight => {
    const nodes = Number(row.nodes);
    const done = Number(row.done);
    const imageBytes = row.image_bytes === null ? null : Number(row.image_bytes);
    const pulled = Number(row.pulled_bytes ?? 0);
    return {
      projectId: row.project_id,
      project: row.project,
      pinId: row.pin_id,
      reference: row.reference,
      digest: row.digest,
      startedAt: row.resolved_at,
      nodes,
      done,
      fetching: Number(row.fetching),
      queued: Number(row.queued),
      offline: Number(row.offline),
      imageBytes,
      bytesTotal: imageBytes === null ? null : imageBytes * nodes,
      bytesDone: (imageBytes ?? 0) * done + pulled,
      bytesPerSecond: Math.round(row.rate ?? 0),
      registryBytes: Number(row.registry_bytes ?? 0),
      deliveredBytes: Number(row.delivered_bytes ?? 0),
    };
  });
  return { rollouts, total: Number(rows[0]?.total ?? 0) };
}
