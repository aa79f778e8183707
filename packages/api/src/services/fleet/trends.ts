// Trends: how a project converged over time, how long its rollouts took, and how many bytes the
// fleet synced a day. Sync jobs keep their own history (bytes per day reads them); convergence and
// rollouts do not, so the control plane's trends loop (recordTrends, every half minute) writes
// them down: a sample when a project's numbers change (or every few minutes while they stand),
// and a rollout row from a pin's new digest until every node serving the project holds it.
import type { ServiceDeps } from '../deps.ts';
import { servedPins, servedProjects } from './served-sql.ts';

/** While nothing changes, a project still gets a sample this often, so its line reaches the present. */
export const steadySampleMs = 5 * 60_000;
/** Samples older than this are pruned; so are finished rollouts, after `rolloutKeepMs`. */
export const sampleKeepMs = 30 * 86_400_000;
export const rolloutKeepMs = 180 * 86_400_000;
/** A rollout first seen complete this long after its pin resolved has no known end. */
export const untimedAfterMs = 2 * 60_000;
/** The most points a convergence chart gets; longer histories are thinned in SQL. */
export const samplePointCap = 200;
export const trendDays = 14;

interface Counts {
  nodes: number;
  holding: number;
}

/** Writes what changed since the last run; safe to run from several control processes at once. */
export async function recordTrends(deps: ServiceDeps, now = new Date()): Promise<{ samples: number; started: number; finished: number }> {
  return deps.db.$transaction(async (tx) => {
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext('cider-trends'))`;
    const [projects, pins, lastSamples, lastRollouts] = await Promise.all([
      tx.$queryRaw<{ project_id: string; nodes: bigint; holding: bigint }[]>`
        WITH served AS (${servedProjects}), wanted AS (${servedPins}),
        missing AS (
          SELECT DISTINCT w.project_id, w.node_id FROM wanted w
          LEFT JOIN node_images ni ON ni.node_id = w.node_id AND ni.digest = w.digest WHERE ni.node_id IS NULL
        )
        SELECT p.id::text AS project_id, COUNT(s.node_id) AS nodes, COUNT(s.node_id) FILTER (WHERE m.node_id IS NULL) AS holding
        FROM projects p
        LEFT JOIN served s ON s.project_id = p.id
        LEFT JOIN missing m ON m.project_id = s.project_id AND m.node_id = s.node_id
        GROUP BY p.id`,
      tx.$queryRaw<{ pin_id: string; project_id: string; reference: string; digest: string; resolved_at: Date; nodes: bigint; holding: bigint }[]>`
        WITH wanted AS (${servedPins})
        SELECT pin.id::text AS pin_id, pin.project_id::text, pin.reference, pin.digest, pin.resolved_at,
               COUNT(w.node_id) AS nodes, COUNT(ni.node_id) AS holding
        FROM pins pin
        LEFT JOIN wanted w ON w.pin_id = pin.id
        LEFT JOIN node_images ni ON ni.node_id = w.node_id AND ni.digest = w.digest
        GROUP BY pin.id`,
      tx.$queryRaw<{ project_id: string; at: Date; nodes: number; holding: number }[]>`
        SELECT DISTINCT ON (project_id) project_id::text, at, nodes, holding FROM convergence_samples ORDER BY project_id, at DESC`,
      tx.$queryRaw<{ id: string; pin_id: string; digest: string; finished_at: Date | null }[]>`
        SELECT DISTINCT ON (pin_id) id::text, pin_id::text, digest, finished_at FROM rollouts ORDER BY pin_id, started_at DESC`,
    ]);

    const previous = new Map(lastSamples.map((s) => [s.project_id, s]));
    const samples = projects.flatMap((p) => {
      const counts: Counts = { nodes: Number(p.nodes), holding: Number(p.holding) };
      const last = previous.get(p.project_id);
      const due = !last || last.nodes !== counts.nodes || last.holding !== counts.holding || now.getTime() - last.at.getTime() >= steadySampleMs;
      return due && (!last || last.at < now) ? [{ projectId: p.project_id, at: now, ...counts }] : [];
    });
    if (samples.length) await tx.convergenceSample.createMany({ data: samples, skipDuplicates: true });

    const latest = new Map(lastRollouts.map((r) => [r.pin_id, r]));
    let started = 0;
    let finished = 0;
    for (const pin of pins) {
      const nodes = Number(pin.nodes);
      const complete = nodes > 0 && Number(pin.holding) === nodes;
      const last = latest.get(pin.pin_id);
      // A project no node serves has nothing to roll out (yet).
      if (nodes === 0 && (!last || last.digest !== pin.digest)) continue;
      if (!last || last.digest !== pin.digest) {
        const timed = !complete || now.getTime() - pin.resolved_at.getTime() <= untimedAfterMs;
        await tx.rollout.create({
          data: { projectId: pin.project_id, pinId: pin.pin_id, reference: pin.reference, digest: pin.digest, startedAt: pin.resolved_at, finishedAt: complete ? now : null, nodes, timed },
        });
        started++;
        if (complete) finished++;
      } else if (!last.finished_at && complete) {
        await tx.rollout.update({ where: { id: last.id }, data: { finishedAt: now, nodes } });
        finished++;
      }
    }
    await tx.convergenceSample.deleteMany({ where: { at: { lt: new Date(now.getTime() - sampleKeepMs) } } });
    await tx.rollout.deleteMany({ where: { finishedAt: { lt: new Date(now.getTime() - rolloutKeepMs) } } });
    return { samples: samples.length, started, finished };
  });
}

export interface RolloutDuration {
  projectId: string;
  project: string;
  reference: string;
  digest: string;
  startedAt: Date;
  finishedAt: Date | null;
  nodes: number;
  /** Running, done, or done at an unknown time (first seen complete). */
  state: 'running' | 'done' | 'untimed';
  /** Null unless done. */
  seconds: number | null;
}

/** The latest rollouts (of one project, or of the fleet), newest first. */
export async function rolloutDurations(deps: ServiceDeps, input: { projectId?: string; limit: number }): Promise<RolloutDuration[]> {
  const rows = await deps.db.rollout.findMany({
    where: input.projectId ? { projectId: input.projectId } : {},
    orderBy: [{ startedAt: 'desc' }, { id: 'asc' }],
    take: input.limit,
    include: { project: { select: { name: true } } },
  });
  return rows.map((r) => ({
    projectId: r.projectId,
    project: r.project.name,
    reference: r.reference,
    digest: r.digest,
    startedAt: r.startedAt,
    finishedAt: r.timed ? r.finishedAt : null,
    nodes: r.nodes,
    state: !r.timed ? 'untimed' : r.finishedAt ? 'done' : 'running',
    seconds: r.timed && r.finishedAt ? Math.max(0, Math.round((r.finishedAt.getTime() - r.startedAt.getTime()) / 1000)) : null,
  }));
}

export interface ConvergencePoint {
  at: Date;
  nodes: number;
  holding: number;
}

/**
 * A project's convergence over the last `days`, in at most `samplePointCap` slices of time, each
 * kept as its lowest point (a rollout's dip) and its last: thinning never hides a rollout.
 */
export async function projectConvergence(deps: ServiceDeps, projectId: string, now = new Date(), days = trendDays): Promise<ConvergencePoint[]> {
  const since = new Date(now.getTime() - days * 86_400_000);
  const sliceMs = Math.ceil((days * 86_400_000) / samplePointCap);
  return deps.db.$queryRaw<ConvergencePoint[]>`
    SELECT at, nodes, holding FROM (
      SELECT at, nodes, holding,
             ROW_NUMBER() OVER (PARTITION BY slice ORDER BY at DESC) AS newest,
             ROW_NUMBER() OVER (PARTITION BY slice ORDER BY holding::float8 / NULLIF(nodes, 0) ASC NULLS LAST, at) AS lowest
      FROM (
        SELECT FLOOR(EXTRACT(EPOCH FROM (at - ${since}::timestamptz)) * 1000 / ${sliceMs}) AS slice, at, nodes, holding
        FROM convergence_samples WHERE project_id = ${projectId}::uuid AND at >= ${since} AND at <= ${now}
      ) sliced
    ) ranked
    WHERE newest = 1 OR lowest = 1
    ORDER BY at`;
}

export interface BytesPerDay {
  /** YYYY-MM-DD, UTC. */
  day: string;
  bytes: number;
  registryBytes: number;
}

/** Bytes the fleet's finished pulls delivered per UTC day, the last `days` days including today (days without any are 0). */
export async function bytesPerDay(deps: ServiceDeps, now = new Date(), days = trendDays): Promise<BytesPerDay[]> {
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const since = new Date(today - (days - 1) * 86_400_000);
  const rows = await deps.db.$queryRaw<{ day: string; bytes: bigint | null; registry: bigint | null }[]>`
    SELECT to_char(finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, SUM(bytes_total)::bigint AS bytes, SUM(bytes_from_registry)::bigint AS registry
    FROM sync_jobs WHERE state = 'done' AND finished_at >= ${since}
    GROUP BY 1`;
  const byDay = new Map(rows.map((r) => [r.day, r]));
  return Array.from({ length: days }, (_, i) => {
    const day = new Date(since.getTime() + i * 86_400_000).toISOString().slice(0, 10);
    const row = byDay.get(day);
    return { day, bytes: Number(row?.bytes ?? 0), registryBytes: Number(row?.registry ?? 0) };
  });
}

/** A project's trends section: its convergence and its latest rollouts. */
export async function projectTrends(deps: ServiceDeps, projectId: string, now = new Date()) {
  const [convergence, rollouts] = await Promise.all([projectConvergence(deps, projectId, now), rolloutDurations(deps, { projectId, limit: 10 })]);
  return { days: trendDays, convergence, rollouts };
}
