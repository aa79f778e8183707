// Editing and removing a connected registry. A password is never sent back: leaving it blank
// keeps the sealed one. A registry that pins use can't be removed, nor moved to another host
// (their references name it); the refusal says which projects. Both are audited without secrets.
import type { Prisma, Registry } from '@cider/db';
import { AppError } from '../../errors.ts';
import { seal } from '../../secrets.ts';
import { recordAudit } from '../audit/record.ts';
import type { Actor, ServiceDeps } from '../deps.ts';
import { isUniqueViolation, nameTaken } from '../names.ts';
import { credentialOf, normaliseRegistryHost, ping, registryView, type RegistryInput, type RegistryView } from './registries.ts';

/** What an edit may change: a new registry's fields but its tag policy (set on its own). */
export interface RegistryUpdate extends Omit<RegistryInput, 'immutableTags' | 'password'> {
  id: string;
  /** Blank or absent: keep the stored password. */
  password?: string;
}

type Tx = Prisma.TransactionClient;

/** The names of the projects whose pins use a registry, in order. */
async function pinningProjects(tx: Tx | ServiceDeps['db'], registryId: string): Promise<string[]> {
  const pins = await tx.pin.findMany({ where: { registryId }, select: { project: { select: { name: true } } }, distinct: ['projectId'] });
  return pins.map((p) => p.project.name).sort((a, b) => a.localeCompare(b));
}

function quoted(names: string[]): string {
  const shown = names.slice(0, 5).map((n) => `"${n}"`);
  return names.length > 5 ? `${shown.join(', ')} and ${names.length - 5} more` : shown.join(', ');
}

function projectsPhrase(names: string[]): string {
  return `${names.length === 1 ? 'project' : `${names.length} projects`} ${quoted(names)}`;
}

async function findRegistry(tx: Tx | ServiceDeps['db'], id: string): Promise<Registry> {
  const registry = await tx.registry.findUnique({ where: { id } });
  if (!registry) throw new AppError('NOT_FOUND', 'No such registry: it may have been removed.');
  return registry;
}

/** Changes a registry's name, address or credentials, checking first that it answers with them. */
export async function updateRegistry(deps: ServiceDeps, actor: Actor, input: RegistryUpdate): Promise<RegistryView> {
  const before = await findRegistry(deps.db, input.id);
  const normalised = normaliseRegistryHost(input.host);
  const host = normalised.host;
  const plainHttp = normalised.plainHttp ?? input.plainHttp;
  const username = input.authKind === 'basic' ? input.username?.trim() || null : null;
  const newPassword = input.authKind === 'basic' && input.password ? input.password : undefined;
  if (input.authKind === 'basic' && !username) throw new AppError('BAD_REQUEST', 'Basic authentication needs a username.');
  // The sealed password stays only while it is still for the same user.
  const keepsSecret = input.authKind === 'basic' && !newPassword && before.authKind === 'basic' && before.secretSealed !== null && before.username === username;
  if (input.authKind === 'basic' && !newPassword && !keepsSecret) {
    throw new AppError('BAD_REQUEST', before.secretSealed ? 'Enter the password for the new username.' : 'Basic authentication needs a password.');
  }
  if (host.toLowerCase() !== before.host.toLowerCase()) {
    const projects = await pinningProjects(deps.db, before.id);
    if (projects.length > 0) {
      throw new AppError('CONFLICT', `Pins in ${projectsPhrase(projects)} name ${before.host} in their references, so this registry can't move to ${host}. Connect ${host} as another registry instead.`);
    }
  }
  const clash = await deps.db.registry.findFirst({ where: { id: { not: before.id }, OR: [{ host: { equals: host, mode: 'insensitive' } }, { name: input.name }] } });
  if (clash) throw clash.host.toLowerCase() === host.toLowerCase() ? new AppError('CONFLICT', `Registry ${host} is already connected as "${clash.name}".`) : nameTaken('registry', input.name, clash.name);

  const connectionChanged = host !== before.host || plainHttp !== before.plainHttp || input.authKind !== before.authKind || username !== before.username || newPassword !== undefined;
  if (connectionChanged) {
    const stored = credentialOf(deps, before);
    const password = newPassword ?? (stored?.kind === 'basic' ? stored.password : undefined);
    await ping(deps, { host, plainHttp, authKind: input.authKind, username: username ?? undefined, password });
  }

  const after = await deps.db
    .$transaction(async (tx) => {
      const updated = await tx.registry.update({
        where: { id: before.id },
        data: {
          name: input.name,
          host,
          plainHttp,
          authKind: input.authKind,
          username,
          secretSealed: newPassword ? new Uint8Array(seal(deps.secretKey, newPassword, `registry:${before.id}`)) : keepsSecret ? before.secretSealed : null,
          ...(connectionChanged ? { lastCheckedAt: new Date(), lastError: null } : {}),
        },
      });
      await recordAudit(tx, actor, 'registry.update', { type: 'registry', id: before.id }, registryView(before), { ...registryView(updated), ...(newPassword ? { credentialChanged: true } : {}) });
      return updated;
    })
    .catch(async (error: unknown) => {
      if (!isUniqueViolation(error)) throw error;
      const taken = await deps.db.registry.findFirst({ where: { id: { not: before.id }, name: input.name }, select: { name: true } });
      throw taken ? nameTaken('registry', input.name, taken.name) : new AppError('CONFLICT', `Registry ${host} is already connected.`);
    });
  await deps.events.publish({ type: 'registry.updated', registryId: after.id });
  return registryView(after);
}

/** Removes a registry with its mirrors and tag records; refused while pins use it, naming their projects. */
export async function deleteRegistry(deps: ServiceDeps, actor: Actor, input: { id: string }): Promise<{ name: string }> {
  const refusal = (name: string, projects: string[]) =>
    new AppError('CONFLICT', `Registry "${name}" is used by pins in ${projectsPhrase(projects)}. Remove those pins first; then it can be removed.`);
  const removed = await deps.db
    .$transaction(async (tx) => {
      const registry = await findRegistry(tx, input.id);
      const projects = await pinningProjects(tx, registry.id);
      if (projects.length > 0) throw refusal(registry.name, projects);
      const mirrors = await tx.mirror.findMany({ where: { registryId: registry.id }, select: { site: true, host: true } });
      await tx.registry.delete({ where: { id: registry.id } });
      await recordAudit(tx, actor, 'registry.delete', { type: 'registry', id: registry.id }, { ...registryView(registry), mirrors }, undefined);
      return registry;
    })
    .catch(async (error: unknown) => {
      // A pin added between the check and the delete: the foreign key still refuses.
      if ((error as { code?: unknown } | null)?.code !== 'P2003') throw error;
      const registry = await findRegistry(deps.db, input.id);
      throw refusal(registry.name, await pinningProjects(deps.db, registry.id));
    });
  await deps.events.publish({ type: 'registry.updated', registryId: removed.id });
  return { name: removed.name };
}
