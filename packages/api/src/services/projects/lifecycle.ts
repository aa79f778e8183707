// A project after it is made: rename it, change which nodes it serves, delete it. Deleting
// removes its pins, so its nodes stop being asked for those images; the images they already hold
// stay in their caches (evicted only when a node needs the room), never deleted here.
import type { Prisma } from '@cider/db';
import { AppError } from '../../errors.ts';
import { recordAudit } from '../audit/record.ts';
import type { Actor, ServiceDeps } from '../deps.ts';
import { asLabels, assertProjectNameFree, checkProjectName, formatSelector, type Labels } from './projects.ts';

/** What the audit log keeps of a project: names, not ids. */
function described(project: { name: string; nodeSelector: Prisma.JsonValue; team: { name: string } }) {
  return { name: project.name, team: project.team.name, nodeSelector: formatSelector(asLabels(project.nodeSelector)) || 'all nodes' };
}

async function loadProject(deps: ServiceDeps, projectId: string) {
  const project = await deps.db.project.findUnique({ where: { id: projectId }, include: { team: true, pins: { orderBy: { reference: 'asc' } } } });
  if (!project) throw new AppError('NOT_FOUND', 'No such project: it may have been deleted.');
  return project;
}

/** Renames and/or changes the selector; audited as before -> after of what changed. */
export async function updateProject(deps: ServiceDeps, actor: Actor, projectId: string, input: { name?: string; nodeSelector?: Labels }): Promise<{ id: string; name: string; nodeSelector: string }> {
  const project = await loadProject(deps, projectId);
  const name = input.name === undefined ? project.name : checkProjectName(input.name);
  if (name !== project.name) await assertProjectNameFree(deps.db, name, project.id);
  const selector = input.nodeSelector ?? asLabels(project.nodeSelector);
  const selectorChanged = !sameLabels(selector, asLabels(project.nodeSelector));
  if (name === project.name && !selectorChanged) return { id: project.id, name, nodeSelector: formatSelector(selector) };

  const saved = await deps.db.$transaction(async (tx) => {
    const saved = await tx.project.update({ where: { id: project.id }, data: { name, nodeSelector: selector }, include: { team: true } });
    const before = described(project);
    const after = described(saved);
    const keys = (['name', 'nodeSelector'] as const).filter((key) => before[key] !== after[key]);
    await recordAudit(tx, actor, 'project.update', { type: 'project', id: project.id }, Object.fromEntries(keys.map((k) => [k, before[k]])), Object.fromEntries(keys.map((k) => [k, after[k]])));
    return saved;
  });
  // Nodes that left the selector stop being asked for its pins; new ones start fetching them.
  if (selectorChanged) await deps.queues.add('reconcile', { scope: 'all', reason: `project ${name} selector changed` });
  await deps.events.publish({ type: 'project.updated', projectId: project.id });
  return { id: project.id, name, nodeSelector: formatSelector(asLabels(saved.nodeSelector)) };
}

/** Same terms in any order (PostgreSQL keeps jsonb keys in its own order). */
function sameLabels(a: Labels, b: Labels): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => b[key] === a[key]);
}

/** Deletes the project and its pins; cached images on nodes stay. Returns what was unpinned. */
export async function deleteProject(deps: ServiceDeps, actor: Actor, projectId: string): Promise<{ name: string; unpinned: string[] }> {
  const project = await loadProject(deps, projectId);
  const pins = project.pins.map((p) => ({ reference: p.reference, digest: p.digest, mode: p.mode }));
  await deps.db.$transaction(async (tx) => {
    await tx.project.delete({ where: { id: project.id } }); // pins go with it (onDelete: Cascade)
    await recordAudit(tx, actor, 'project.delete', { type: 'project', id: project.id }, { ...described(project), pins }, undefined);
  });
  // Open sync jobs for images no other project pins are cancelled; nothing is evicted.
  if (pins.length > 0) await deps.queues.add('reconcile', { scope: 'all', reason: `project ${project.name} deleted` });
  await deps.events.publishMany([{ type: 'project.updated', projectId: project.id }, ...project.pins.map((p) => ({ type: 'pin.updated' as const, projectId: project.id, pinId: p.id }))]);
  return { name: project.name, unpinned: pins.map((p) => p.reference) };
}
