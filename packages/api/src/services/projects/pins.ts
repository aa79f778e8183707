// Pins: a project's choice of base image. Setting one resolves the tag to a digest at the
// registry now, so every node gets exactly that digest, writes the pin and its audit event in
// one transaction, and asks for a reconcile.
import type { PinMode } from '@cider/db';
import { formatReference, isOciError, parseReference } from '@cider/oci';
import { AppError } from '../../errors.ts';
import { recordAudit } from '../audit/record.ts';
import type { Actor, ServiceDeps } from '../deps.ts';
import { loadDesiredState } from '../fleet/desired-state.ts';
import { clientFor, fromOciError } from '../registries/registries.ts';
import { canEditTeam, type PermissionSubject } from '../../permissions.ts';

export interface SetPinInput {
  projectId: string;
  reference: string;
  mode: PinMode;
}

/** A tag reference parsed, its registry connected, and the tag resolved to a digest at the registry now. */
async function resolvePinReference(deps: ServiceDeps, input: string) {
  let ref;
  try {
    ref = parseReference(input);
  } catch (error) {
    throw fromOciError(error, 'Parsing the reference');
  }
  if (ref.digest && !ref.tag) {
    throw new AppError('BAD_REQUEST', 'Pin a tag (e.g. registry/demo/macos:15.2); a frozen pin keeps the digest it resolves to.');
  }
  const tag = ref.tag!;
  const registry = await deps.db.registry.findUnique({ where: { host: ref.registry } });
  if (!registry) {
    throw new AppError('NOT_FOUND', `Registry ${ref.registry} is not connected. Add it under Registries first, then pin again.`);
  }

  const client = clientFor(deps, registry);
  let digest: string;
  try {
    // A digest in the reference must agree with what the tag resolves to.
    const descriptor = await client.repositoryOf(ref).resolve(tag);
    if (ref.digest && ref.digest !== descriptor.digest) {
      throw new AppError('CONFLICT', `Tag ${tag} now points to ${descriptor.digest}, not ${ref.digest}.`);
    }
    digest = descriptor.digest;
  } catch (error) {
    // Point to the tag list on this dashboard, not to the CLI the registry client's message names.
    if (isOciError(error, 'NOT_FOUND')) {
      throw new AppError('NOT_FOUND', `Tag "${tag}" not found in ${ref.repository} at ${ref.registry}. Pick one from its tag list: Images → ${registry.name} → ${ref.repository}.`, { cause: error });
    }
    throw fromOciError(error, `Resolving ${input}`);
  } finally {
    await client.close();
  }
  const reference = formatReference({ registry: ref.registry, repository: ref.repository, tag });
  return { registry, repository: ref.repository, tag, digest, reference };
}

export async function setPin(deps: ServiceDeps, actor: Actor, input: SetPinInput) {
  const project = await deps.db.project.findUnique({ where: { id: input.projectId } });
  if (!project) throw new AppError('NOT_FOUND', 'No such project.');
  const { registry, repository, tag, digest, reference } = await resolvePinReference(deps, input.reference);
  const pin = await deps.db.$transaction(async (tx) => {
    const before = await tx.pin.findUnique({ where: { projectId_reference: { projectId: project.id, reference } } });
    const data = { registryId: registry.id, repository, tag, mode: input.mode, digest, driftDigest: null, resolvedAt: new Date(), createdById: actor.userId ?? null };
    const saved = before
      ? await tx.pin.update({ where: { id: before.id }, data })
      : await tx.pin.create({ data: { ...data, projectId: project.id, reference } });
    await recordAudit(tx, actor, before ? 'pin.update' : 'pin.create', { type: 'pin', id: saved.id }, before, saved);
    return saved;
  });
  await deps.queues.add('reconcile', { scope: 'project', id: project.id, reason: `pin ${reference} set` });
  await deps.events.publish({ type: 'pin.updated', projectId: project.id, pinId: pin.id });
  const nodes = (await loadDesiredState(deps, { projectId: project.id })).nodesOf(project.id).map((n) => n.id);
  const holding = nodes.length === 0 ? 0 : await deps.db.nodeImage.count({ where: { digest, nodeId: { in: nodes } } });
  return { ...pin, message: pinMessage(pin.reference, digest, nodes.length, holding) };
}

/**
 * Moves a pin to another reference or mode (the REST API's PUT /pins/{id}): re-resolved now,
 * updated with its audit event in one transaction. Refused when the project already pins the new
 * reference (409), or when the pin changed since `expected` was read (a concurrent change).
 */
export async function movePin(
  deps: ServiceDeps,
  actor: Actor,
  user: PermissionSubject,
  input: { pinId: string; reference: string; mode: PinMode; expected?: { updatedAt: Date } },
) {
  const current = await deps.db.pin.findUnique({ where: { id: input.pinId }, include: { project: true } });
  if (!current) throw new AppError('NOT_FOUND', 'No such pin: it may have been removed.');
  if (!canEditTeam(user, current.project.teamId)) throw new AppError('FORBIDDEN', "Only admins and members of this project's team can change its pins.");
  const { registry, repository, tag, digest, reference } = await resolvePinReference(deps, input.reference);
  const pin = await deps.db.$transaction(async (tx) => {
    const before = await tx.pin.findUnique({ where: { id: current.id } });
    if (!before) throw new AppError('NOT_FOUND', 'No such pin: it was removed meanwhile.');
    if (input.expected && before.updatedAt.getTime() !== input.expected.updatedAt.getTime()) {
      throw new AppError('CONFLICT', 'The pin changed while this change was being made; read it again and retry.');
    }
    const clash = await tx.pin.findUnique({ where: { projectId_reference: { projectId: before.projectId, reference } } });
    if (clash && clash.id !== before.id) throw new AppError('CONFLICT', `${current.project.name} already pins ${reference} (pin ${clash.id}); change or remove that one instead.`);
    const saved = await tx.pin.update({
      where: { id: before.id },
      data: { registryId: registry.id, repository, tag, reference, mode: input.mode, digest, driftDigest: null, resolvedAt: new Date() },
    });
    await recordAudit(tx, actor, 'pin.update', { type: 'pin', id: saved.id }, before, saved);
    return saved;
  });
  await deps.queues.add('reconcile', { scope: 'project', id: pin.projectId, reason: `pin ${reference} moved` });
  await deps.events.publish({ type: 'pin.updated', projectId: pin.projectId, pinId: pin.id });
  await deps.events.publish({ type: 'data.changed', path: 'pins.update' });
  return pin;
}

/** What the form says after a pin: what the nodes will do now, in the words of what happened. */
export function pinMessage(reference: string, digest: string, nodes: number, holding: number): string {
  const pinned = `Pinned ${reference} at ${digest.slice(0, 'sha256:'.length + 12)}`;
  if (nodes === 0) return `${pinned}; no node matches this project's selector yet.`;
  const all = nodes === 1 ? 'the only node' : `all ${nodes} nodes`;
  if (holding >= nodes) return `${pinned}; already on ${all}, nothing to fetch.`;
  if (holding === 0) return `${pinned}; ${nodes === 1 ? 'its node is' : `${all} are`} fetching it.`;
  return `${pinned}; already on ${holding} of ${nodes} nodes, the other ${nodes - holding} ${nodes - holding === 1 ? 'is' : 'are'} fetching it.`;
}

export async function removePin(deps: ServiceDeps, actor: Actor, pinId: string): Promise<void> {
  const pin = await deps.db.pin.findUnique({ where: { id: pinId } });
  if (!pin) throw new AppError('NOT_FOUND', 'No such pin.');
  await deps.db.$transaction(async (tx) => {
    await tx.pin.delete({ where: { id: pin.id } });
    await recordAudit(tx, actor, 'pin.delete', { type: 'pin', id: pin.id }, pin, undefined);
  });
  await deps.queues.add('reconcile', { scope: 'project', id: pin.projectId, reason: `pin ${pin.reference} removed` });
  await deps.events.publish({ type: 'pin.updated', projectId: pin.projectId, pinId: pin.id });
}
