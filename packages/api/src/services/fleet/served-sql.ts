// Desired state in SQL, for the overview's aggregates: at 1,000 nodes, loading every node into
// DesiredState to count is what made the overview slow and large. A node serves a project when
// its labels contain the project's selector, which jsonb containment (`@>`) says directly: the
// same rule as selectorMatches (projects.ts), for selectors and labels of string values.
import { Prisma } from '@cider/db';
import { openStates } from '../sync/lifecycle.ts';
import { staleAfterMs } from './overview.ts';

/** One row per (project, pin, node serving the project): project_id, project, pin_id, reference, digest, resolved_at, node_id, node_state, node_last_seen_at. */
export const servedPins = Prisma.sql`
  SELECT p.id AS project_id, p.name AS project, pin.id AS pin_id, pin.reference, pin.digest, pin.resolved_at, n.id AS node_id,
         n.state::text AS node_state, n.last_seen_at AS node_last_seen_at
  FROM projects p
  JOIN pins pin ON pin.project_id = p.id
  JOIN nodes n ON n.revoked_at IS NULL AND n.labels @> p.node_selector`;

/** One row per (project, node serving it): project_id, node_id. */
export const servedProjects = Prisma.sql`
  SELECT p.id AS project_id, n.id AS node_id
  FROM projects p
  JOIN nodes n ON n.revoked_at IS NULL AND n.labels @> p.node_selector`;

/** The newest open sync job of each (node, digest): node_id, digest, state, bytes_done, bytes_total, started_at. */
export const openJobs = Prisma.sql`
  SELECT DISTINCT ON (node_id, digest) node_id, digest, state::text AS state, bytes_done, bytes_total, started_at
  FROM sync_jobs
  WHERE state::text IN (${Prisma.join([...openStates])})
  ORDER BY node_id, digest, created_at DESC`;

/** Whether the node aliased `n` counts as offline at `now` (nodeStatus's rule, for non-revoked nodes). */
export function isOffline(now: Date): Prisma.Sql {
  return offlineBy(now, Prisma.sql`n.state::text`, Prisma.sql`n.last_seen_at`);
}

/** The same rule over a servedPins row aliased `s`. */
export function isServedNodeOffline(now: Date): Prisma.Sql {
  return offlineBy(now, Prisma.sql`s.node_state`, Prisma.sql`s.node_last_seen_at`);
}

function offlineBy(now: Date, state: Prisma.Sql, lastSeenAt: Prisma.Sql): Prisma.Sql {
  const since = new Date(now.getTime() - staleAfterMs);
  return Prisma.sql`(${state} <> 'online' OR ${lastSeenAt} IS NULL OR ${lastSeenAt} <= ${since})`;
}
