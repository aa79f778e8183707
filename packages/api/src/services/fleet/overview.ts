// Read models for the dashboard: nodes, projects and their rollout, in the shapes pages render.
import type { Node, SyncJob } from '@cider/db';
import { nodeCondition, type HostFacts, type NodeCondition } from '@cider/protocol';
import { z } from 'zod';
import { AppError } from '../../errors.ts';
import type { ServiceDeps } from '../deps.ts';
import { DesiredState } from './desired-state.ts';
import { asLabels, formatSelector } from '../projects/projects.ts';
import { openStates } from '../sync/lifecycle.ts';
import { fleetAttention } from './attention.ts';
import { cacheTop, firstRunChecklist, fleetTotals } from './fleet-totals.ts';
import { rolloutsInFlight } from './rollouts-in-flight.ts';
import { bytesPerDay, rolloutDurations } from './trends.ts';

/** A node that has not been heard from for this long counts as offline, whatever its row says. */
export const staleAfterMs = 90_000;

export type NodeStatus = 'online' | 'offline' | 'revoked';

export function nodeStatus(node: Pick<Node, 'state' | 'lastSeenAt' | 'revokedAt'>, now = Date.now()): NodeStatus {
  if (node.revokedAt || node.state === 'revoked') return 'revoked';
  if (node.state === 'online' && node.lastSeenAt && now - node.lastSeenAt.getTime() < staleAfterMs) return 'online';
  return 'offline';
}

export type ImageStatus = 'in-sync' | 'queued' | 'syncing' | 'failed' | 'waiting-offline';

export interface RolloutCell {
  pinId: string;
  reference: string;
  digest: string;
  status: ImageStatus;
  bytesDone: number;
  bytesTotal: number | null;
  error: string | null;
  syncJobId: string | null;
}

export interface RolloutRow {
  nodeId: string;
  nodeName: string;
  nodeStatus: NodeStatus;
  labels: Record<string, string>;
  inSync: boolean;
  cells: RolloutCell[];
}

/** The table from (held, latest job, online) to what a rollout cell shows. */
function cellStatus(held: boolean, job: SyncJob | undefined, online: boolean): ImageStatus {
  if (held) return 'in-sync';
  // Done but not (yet, or any more) in the inventory: the agent will report; it is on its way.
  if (job?.state === 'pulling' || job?.state === 'dispatched' || job?.state === 'done') return 'syncing';
  if (job?.state === 'failed') return 'failed';
  if (!online) return 'waiting-offline';
  return job?.state === 'queued' && job.error ? 'failed' : 'queued';
}

export interface RolloutQuery {
  /** Part of a node's name, any case. */
  search?: string;
  /** Only nodes still missing one of the project's pinned digests. */
  onlyNotInSync?: boolean;
  /** By node name (the default), or nodes still missing a pin first; `desc` turns either round. */
  sort?: RolloutSort;
  direction?: 'asc' | 'desc';
  offset?: number;
  /** Rows on this page; every row when left out (tests and the control plane's own checks). */
  limit?: number;
}

export interface RolloutPage {
  rows: RolloutRow[];
  /** Nodes serving the project. */
  serving: number;
  /** Of those, nodes not holding every pinned digest. */
  notInSync: number;
  /** Nodes matching the search and filter, of which `rows` is one page. */
  total: number;
  offset: number;
}

/**
 * Nodes serving a project, a page at a time, and where each pin stands there. Matching selectors
 * and "in sync" need every serving node, but only holdings (a row per node and pinned digest)
 * are read for that; jobs are read for the page's nodes only, so 1,000 nodes cost one small page.
 */
export const rolloutSorts = ['name', 'sync'] as const;
export type RolloutSort = (typeof rolloutSorts)[number];

export async function projectRollout(deps: ServiceDeps, projectId: string, query: RolloutQuery = {}): Promise<RolloutPage> {
  const project = await deps.db.project.findUnique({ where: { id: projectId }, include: { pins: { orderBy: { reference: 'asc' } } } });
  if (!project) throw new AppError('NOT_FOUND', 'No such project.');
  const allNodes = await deps.db.node.findMany({
    where: { revokedAt: null },
    select: { id: true, name: true, labels: true, state: true, lastSeenAt: true, revokedAt: true },
    orderBy: { name: 'asc' },
  });
  const nodes = new DesiredState(allNodes, [project]).nodesOf(project.id);
  const digests = project.pins.map((p) => p.digest);
  const held = digests.length === 0 ? [] : await deps.db.nodeImage.findMany({ where: { digest: { in: digests } }, select: { nodeId: true, digest: true } });
  const heldSet = new Set(held.map((h) => `${h.nodeId} ${h.digest}`));
  const nodeInSync = (nodeId: string) => digests.every((digest) => heldSet.has(`${nodeId} ${digest}`));
  const search = query.search?.trim().toLowerCase();
  const matching = nodes.filter((node) => (!search || node.name.toLowerCase().includes(search)) && (!query.onlyNotInSync || !nodeInSync(node.id)));
  // Nodes arrive by name; a stable sort keeps name order among equals, so rows never swap.
  const sign = query.direction === 'desc' ? -1 : 1;
  if (query.sort === 'sync') matching.sort((a, b) => sign * (Number(nodeInSync(a.id)) - Number(nodeInSync(b.id))));
  else if (sign < 0) matching.reverse();
  const offset = Math.max(query.offset ?? 0, 0);
  const page = matching.slice(offset, query.limit === undefined ? undefined : offset + query.limit);
  const ids = page.map((n) => n.id);
  const jobs = ids.length === 0 || digests.length === 0 ? [] : await deps.db.syncJob.findMany({ where: { nodeId: { in: ids }, digest: { in: digests } }, orderBy: { createdAt: 'desc' } });
  const latestJob = new Map<string, SyncJob>();
  for (const job of jobs) if (!latestJob.has(`${job.nodeId} ${job.digest}`)) latestJob.set(`${job.nodeId} ${job.digest}`, job);
  const rows = page.map((node) => {
    const status = nodeStatus(node);
    const cells = project.pins.map((pin): RolloutCell => {
      const key = `${node.id} ${pin.digest}`;
      const job = latestJob.get(key);
      const isHeld = heldSet.has(key);
      return {
        pinId: pin.id,
        reference: pin.reference,
        digest: pin.digest,
        status: cellStatus(isHeld, job, status === 'online'),
        bytesDone: Number(job?.bytesDone ?? 0),
        bytesTotal: job?.bytesTotal === null || job?.bytesTotal === undefined ? null : Number(job.bytesTotal),
        error: isHeld ? null : (job?.error ?? null),
        syncJobId: job?.id ?? null,
      };
    });
    return { nodeId: node.id, nodeName: node.name, nodeStatus: status, labels: asLabels(node.labels), inSync: cells.every((c) => c.status === 'in-sync'), cells };
  });
  return { rows, serving: nodes.length, notInSync: nodes.filter((n) => !nodeInSync(n.id)).length, total: matching.length, offset };
}

type ProjectWithPins = Awaited<ReturnType<typeof loadProjects>>[number];

function loadProjects(deps: ServiceDeps, where: { id?: string } = {}) {
  return deps.db.project.findMany({ where, orderBy: { name: 'asc' }, include: { team: true, pins: { orderBy: { reference: 'asc' } } } });
}

function projectView(p: ProjectWithPins) {
  return {
    id: p.id,
    name: p.name,
    team: { id: p.team.id, name: p.team.name },
    nodeSelector: formatSelector(asLabels(p.nodeSelector)),
    pins: p.pins.map((pin) => ({ id: pin.id, reference: pin.reference, mode: pin.mode, digest: pin.digest, resolvedAt: pin.resolvedAt, driftDigest: pin.driftDigest })),
  };
}

export async function listProjects(deps: ServiceDeps) {
  return (await loadProjects(deps)).map(projectView);
}

export async function getProject(deps: ServiceDeps, id: string) {
  const [project] = await loadProjects(deps, { id });
  if (!project) throw new AppError('NOT_FOUND', 'No such project.');
  return projectView(project);
}

export function factsOf(node: Pick<Node, 'facts'>): HostFacts | null {
  return (node.facts as HostFacts | null) ?? null;
}

const storedConditions = z.array(nodeCondition).max(8);

/**
 * The node's standing conditions: those its agent last reported (e.g. a disk with no room for a
 * pinned image), then those the control plane raised (bad data sent to peers). Anything stored
 * that is not a valid condition is dropped.
 */
export function conditionsOf(node: Pick<Node, 'facts' | 'conditions'>): NodeCondition[] {
  const reported = storedConditions.safeParse(factsOf(node)?.conditions ?? []);
  return [...(reported.success ? reported.data : []), ...controlConditionsOf(node)];
}

/** The conditions the control plane raised on a node (services/nodes/conditions.ts). */
export function controlConditionsOf(node: Pick<Node, 'conditions'>): NodeCondition[] {
  const parsed = storedConditions.safeParse(node.conditions ?? []);
  return parsed.success ? parsed.data : [];
}

/**
 * The overview: aggregates and the first few of each list, summed in PostgreSQL, so what it sends
 * stays a few kilobytes however large the fleet. `conditions` are those of the nodes "needs
 * attention" lists for their conditions.
 */
export async function fleetOverview(deps: ServiceDeps) {
  const now = new Date();
  const [totals, cache, attention, rollouts, checklist, projects, jobsInFlight, bytes, recentRollouts] = await Promise.all([
    fleetTotals(deps, now),
    cacheTop(deps),
    fleetAttention(deps, now),
    rolloutsInFlight(deps, now),
    firstRunChecklist(deps),
    deps.db.project.count(),
    deps.db.syncJob.count({ where: { state: { in: [...openStates] } } }),
    bytesPerDay(deps, now),
    rolloutDurations(deps, { limit: 10 }),
  ]);
  const withConditions = attention.groups.find((g) => g.kind === 'condition')?.nodes ?? [];
  const conditions = withConditions.flatMap((node) => node.conditions.map((condition) => ({ nodeId: node.nodeId, node: node.name, ...condition })));
  return { ...totals, jobsInFlight, projects, checklist, rollouts, attention, cacheTop: cache, bytesPerDay: bytes, recentRollouts, conditions };
}
