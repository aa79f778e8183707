// Desired state: which nodes serve which projects, and so which digests each node should hold (the
// pins of the projects it serves). The one place a project's selector is matched against a node's
// labels: reconcile, the gateway's welcome, the fleet overview, a project's rollout and a node's
// page all ask it, each with the rows it already has.
import type { Prisma } from '@cider/db';
import type { ServiceDeps } from '../deps.ts';
import { asLabels, selectorMatches } from '../projects/projects.ts';

export interface DesiredImage {
  digest: string;
  reference: string;
  registryId: string;
}

interface NodeRow {
  id: string;
  labels: Prisma.JsonValue;
  /** A revoked node serves nothing (when the caller's rows carry it). */
  revokedAt?: Date | null;
}

interface ProjectRow {
  id: string;
  nodeSelector: Prisma.JsonValue;
  pins: { digest: string }[];
}

/** Who serves what, computed once from the rows given. */
export class DesiredState<N extends NodeRow = NodeRow, P extends ProjectRow = ProjectRow> {
  private readonly projectsByNode = new Map<string, P[]>();
  private readonly nodesByProject = new Map<string, N[]>();

  constructor(
    readonly nodes: N[],
    readonly projects: P[],
  ) {
    const selectors = projects.map((project) => ({ project, selector: asLabels(project.nodeSelector) }));
    for (const project of projects) this.nodesByProject.set(project.id, []);
    for (const node of nodes) {
      const labels = asLabels(node.labels);
      const served = node.revokedAt ? [] : selectors.filter((s) => selectorMatches(s.selector, labels)).map((s) => s.project);
      this.projectsByNode.set(node.id, served);
      for (const project of served) this.nodesByProject.get(project.id)!.push(node);
    }
  }

  /** The projects a node serves, in the order the projects were given. */
  projectsOf(nodeId: string): P[] {
    return this.projectsByNode.get(nodeId) ?? [];
  }

  /** The nodes serving a project, in the order the nodes were given. */
  nodesOf(projectId: string): N[] {
    return this.nodesByProject.get(projectId) ?? [];
  }

  /** The pins a node must hold, by digest (several projects pinning one digest count once). */
  pinsOf(nodeId: string): Map<string, P['pins'][number]> {
    const pins = new Map<string, P['pins'][number]>();
    for (const project of this.projectsOf(nodeId)) for (const pin of project.pins) if (!pins.has(pin.digest)) pins.set(pin.digest, pin);
    return pins;
  }

  /** Whether a node holds every digest it should. */
  inSync(nodeId: string, held: (digest: string) => boolean): boolean {
    for (const digest of this.pinsOf(nodeId).keys()) if (!held(digest)) return false;
    return true;
  }
}

export type DesiredScope = { nodeIds?: string[] } | { projectId: string };

/**
 * Reads what desired state depends on (non-revoked nodes with their labels and facts, every
 * project with its pins) once. With a project scope, only the nodes serving that project.
 */
export async function loadDesiredState(deps: ServiceDeps, scope: DesiredScope = {}) {
  const nodeIds = 'nodeIds' in scope ? scope.nodeIds : undefined;
  const [nodes, projects] = await Promise.all([
    deps.db.node.findMany({ where: { revokedAt: null, ...(nodeIds ? { id: { in: nodeIds } } : {}) }, select: { id: true, labels: true, facts: true } }),
    deps.db.project.findMany({ include: { pins: { select: { digest: true, reference: true, registryId: true } } } }),
  ]);
  if (!('projectId' in scope)) return new DesiredState(nodes, projects);
  const project = projects.find((p) => p.id === scope.projectId);
  const selector = asLabels(project?.nodeSelector ?? null);
  return new DesiredState(project ? nodes.filter((n) => selectorMatches(selector, asLabels(n.labels))) : [], projects);
}

/** The digests a node must keep (its welcome's and `pinned` messages' list). */
export async function pinnedDigests(deps: ServiceDeps, nodeId: string): Promise<string[]> {
  return [...(await loadDesiredState(deps, { nodeIds: [nodeId] })).pinsOf(nodeId).keys()];
}
