// Read models for the dashboard: nodes, projects and their rollout, in the shapes pages render.
import type { Node, SyncJob } from '@cider/db';
import { nodeCondition, type HostFacts, type NodeCondition } from '@cider/protocol';
import { z } from 'zod';
import { AppError } from '../../errors.ts';
import type { ServiceDeps } from '../deps.ts';
import { DesiredState } from './desired-state.ts';
import { asLabels, formatSelector } from '../projects/projects.ts';
import { openStates } from '../sync/lifecycle.ts';

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

/** Every node serving a project, and where each of its pins stands there. */
export async function projectRollout(deps: ServiceDeps, projectId: string): Promise<{ rows: RolloutRow[] }> {
  const project = await deps.db.project.findUnique({ where: { id: projectId }, include: { pins: { orderBy: { reference: 'asc' } } } });
  if (!project) throw new AppError('NOT_FOUND', 'No such project.');
  const nodes = new DesiredState(await deps.db.node.findMany({ where: { revokedAt: null }, orderBy: { name: 'asc' } }), [project]).nodesOf(project.id);
  const ids = nodes.map((n) => n.id);
  const digests = project.pins.map((p) => p.digest);
  const [held, jobs] = await Promise.all([
    deps.db.nodeImage.findMany({ where: { nodeId: { in: ids }, digest: { in: digests } }, select: { nodeId: true, digest: true } }),
    deps.db.syncJob.findMany({ where: { nodeId: { in: ids }, digest: { in: digests } }, orderBy: { createdAt: 'desc' } }),
  ]);
  const heldSet = new Set(held.map((h) => `${h.nodeId} ${h.digest}`));
  const latestJob = new Map<string, SyncJob>();
  for (const job of jobs) if (!latestJob.has(`${job.nodeId} ${job.digest}`)) latestJob.set(`${job.nodeId} ${job.digest}`, job);
  const rows = nodes.map((node) => {
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
  return { rows };
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

/** The fleet's nodes; with `retired`, instead the revoked and decommissioned ones, which the fleet no longer counts. */
export async function listNodes(deps: ServiceDeps, options: { retired?: boolean } = {}) {
  const [nodes, images, activeJobs] = await Promise.all([
    deps.db.node.findMany({ where: { revokedAt: options.retired ? { not: null } : null }, orderBy: { name: 'asc' } }),
    deps.db.nodeImage.groupBy({ by: ['nodeId'], _count: { digest: true }, _sum: { size: true } }),
    deps.db.syncJob.groupBy({ by: ['nodeId'], where: { state: { in: [...openStates] } }, _count: { id: true } }),
  ]);
  const imageStats = new Map(images.map((i) => [i.nodeId, i]));
  const jobStats = new Map(activeJobs.map((j) => [j.nodeId, j._count.id]));
  return nodes.map((node) => {
    const facts = factsOf(node);
    return {
      id: node.id,
      name: node.name,
      status: nodeStatus(node),
      labels: asLabels(node.labels),
      lastSeenAt: node.lastSeenAt,
      agentVersion: node.agentVersion,
      os: facts ? `${facts.os.platform} ${facts.os.release}` : null,
      architecture: facts?.architecture ?? null,
      diskTotalBytes: facts?.disk.totalBytes ?? null,
      diskFreeBytes: facts?.disk.freeBytes ?? null,
      cacheBytes: facts?.cache.bytes ?? null,
      conditions: conditionsOf(node),
      images: imageStats.get(node.id)?._count.digest ?? 0,
      activeJobs: jobStats.get(node.id) ?? 0,
      decommissionedAt: node.decommissionedAt,
    };
  });
}

export async function fleetOverview(deps: ServiceDeps) {
  const [nodes, projects, held, inFlight] = await Promise.all([
    deps.db.node.findMany({ where: { revokedAt: null } }),
    deps.db.project.findMany({ include: { pins: { select: { digest: true } } } }),
    deps.db.nodeImage.findMany({ select: { nodeId: true, digest: true } }),
    deps.db.syncJob.count({ where: { state: { in: [...openStates] } } }),
  ]);
  const heldSet = new Set(held.map((h) => `${h.nodeId} ${h.digest}`));
  const desired = new DesiredState(nodes, projects);
  let inSync = 0;
  let online = 0;
  const cacheUse = nodes.map((node) => {
    const facts = factsOf(node);
    return { node: node.name, cacheBytes: facts?.cache.bytes ?? 0, diskFreeBytes: facts?.disk.freeBytes ?? 0 };
  });
  for (const node of nodes) {
    if (nodeStatus(node) === 'online') online++;
    if (desired.inSync(node.id, (digest) => heldSet.has(`${node.id} ${digest}`))) inSync++;
  }
  const conditions = nodes.flatMap((node) => conditionsOf(node).map((condition) => ({ nodeId: node.id, node: node.name, ...condition })));
  return { nodes: nodes.length, online, inSync, jobsInFlight: inFlight, projects: projects.length, cacheUse, conditions };
}
