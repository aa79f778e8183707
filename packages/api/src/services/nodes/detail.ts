// One node as its page shows it: host facts, presence, what its cache holds against what its
// projects pin, and its latest sync jobs.
import { AppError } from '../../errors.ts';
import type { ServiceDeps } from '../deps.ts';
import { DesiredState } from '../fleet/desired-state.ts';
import { conditionsOf, factsOf, nodeStatus } from '../fleet/overview.ts';
import { jobView } from '../sync/jobs.ts';
import { asLabels, formatSelector } from '../projects/projects.ts';

export const nodeJobHistory = 50;

export async function nodeDetail(deps: ServiceDeps, nodeId: string) {
  const node = await deps.db.node.findUnique({ where: { id: nodeId } });
  if (!node) throw new AppError('NOT_FOUND', 'No such node: it may have been removed.');
  const labels = asLabels(node.labels);
  const [images, allProjects, jobs] = await Promise.all([
    deps.db.nodeImage.findMany({ where: { nodeId }, orderBy: [{ verifiedAt: 'desc' }] }),
    // A revoked node serves nothing: reconcile leaves it out.
    node.revokedAt ? Promise.resolve([]) : deps.db.project.findMany({ orderBy: { name: 'asc' }, include: { team: true, pins: { orderBy: { reference: 'asc' } } } }),
    deps.db.syncJob.findMany({
      where: { nodeId },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: nodeJobHistory,
      include: { node: { select: { id: true, name: true } } },
    }),
  ]);
  const projects = new DesiredState([node], allProjects).projectsOf(node.id);

  // Which projects' pins ask for each digest on this node.
  const wanted = new Map<string, { projectId: string; projectName: string; reference: string; mode: string }[]>();
  for (const project of projects) {
    for (const pin of project.pins) {
      const list = wanted.get(pin.digest) ?? [];
      list.push({ projectId: project.id, projectName: project.name, reference: pin.reference, mode: pin.mode });
      wanted.set(pin.digest, list);
    }
  }
  const held = new Set(images.map((i) => i.digest));
  const facts = factsOf(node);
  return {
    id: node.id,
    name: node.name,
    status: nodeStatus(node),
    labels,
    agentVersion: node.agentVersion,
    lastSeenAt: node.lastSeenAt,
    enrolledAt: node.enrolledAt,
    revokedAt: node.revokedAt,
    decommissionedAt: node.decommissionedAt,
    /** An admin allowed a new enrollment to take this node's name until then. */
    replaceAllowedUntil: node.replaceAllowedUntil && node.replaceAllowedUntil.getTime() > Date.now() ? node.replaceAllowedUntil : null,
    secretRotationPending: node.pendingSecretHash !== null,
    /** What needs a person on this node: no room for a pinned image (its last heartbeat), bad data sent to peers (raised by the control plane). */
    conditions: conditionsOf(node),
    facts: facts
      ? {
          hostname: facts.hostname,
          os: { platform: facts.os.platform, release: facts.os.release, version: facts.os.version ?? null },
          architecture: facts.architecture,
          cpu: { model: facts.cpu.model, cores: facts.cpu.cores },
          memoryBytes: facts.memoryBytes,
          disk: { totalBytes: facts.disk.totalBytes, freeBytes: facts.disk.freeBytes },
          cache: { path: facts.cache.path, bytes: facts.cache.bytes, quotaBytes: facts.cache.quotaBytes ?? null },
          /** Its peer server, when it runs: where other Macs reach it, and what it sent them since the agent started. */
          peer: facts.peer
            ? { port: facts.peer.port, addresses: facts.peer.addresses, uploadedBytes: facts.peer.uploadedBytes ?? null, uploadsInFlight: facts.peer.uploadsInFlight ?? null }
            : null,
        }
      : null,
    images: images.map((image) => ({
      digest: image.digest,
      reference: image.reference,
      size: Number(image.size),
      verifiedAt: image.verifiedAt,
      lastUsedAt: image.lastUsedAt,
      pinned: wanted.has(image.digest),
      pinnedBy: wanted.get(image.digest) ?? [],
    })),
    /** Pinned for this node but not in its cache yet (the jobs below show how that is going). */
    missing: [...wanted.entries()].filter(([digest]) => !held.has(digest)).map(([digest, pinnedBy]) => ({ digest, pinnedBy })),
    projects: projects.map((p) => ({ id: p.id, name: p.name, team: p.team.name, nodeSelector: formatSelector(asLabels(p.nodeSelector)), pins: p.pins.length })),
    jobs: jobs.map(jobView),
  };
}
