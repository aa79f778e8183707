// Registry mirrors: pull-through caches a site already runs (distribution in proxy mode, Harbor,
// Dragonfly), one per registry and site. Agents of nodes labelled `site=<site>` read the image's
// repository from the mirror first and fall back to the registry; every byte is verified by digest
// either way, so a mirror is trusted with nothing. Credentials are sealed like a registry's and
// never returned; `*` is the mirror of every site that has none of its own.
import type { Mirror, Prisma } from '@cider/db';
import type { Credential } from '@cider/oci';
import { mirrorGrantContext, type RegistryAccess } from '@cider/protocol';
import { AppError } from '../../errors.ts';
import { open, seal } from '../../secrets.ts';
import { recordAudit } from '../audit/record.ts';
import type { Actor, ServiceDeps } from '../deps.ts';
import { sharedRead } from '../shared-read.ts';
import { normaliseRegistryHost, pullAccess, type PullJob } from './registries.ts';

/** The site value that stands for every site without a mirror of its own. */
export const everySite = '*';

export interface MirrorInput {
  registryId: string;
  /** A node label `site` value, or `*`. */
  site: string;
  host: string;
  plainHttp: boolean;
  username?: string;
  password?: string;
}

/** What a browser may see of a mirror. */
export interface MirrorView {
  id: string;
  registryId: string;
  site: string;
  host: string;
  plainHttp: boolean;
  username: string | null;
  hasCredentials: boolean;
  createdAt: Date;
}

export function mirrorView(mirror: Mirror): MirrorView {
  return {
    id: mirror.id,
    registryId: mirror.registryId,
    site: mirror.site,
    host: mirror.host,
    plainHttp: mirror.plainHttp,
    username: mirror.username,
    hasCredentials: mirror.secretSealed !== null,
    createdAt: mirror.createdAt,
  };
}

/** The sealing context of a mirror's password: a sealed value moved to another row does not open. */
const secretContext = (mirrorId: string) => `mirror:${mirrorId}`;

function credentialOf(deps: ServiceDeps, mirror: Mirror): Credential | undefined {
  if (!mirror.username || !mirror.secretSealed) return undefined;
  return { kind: 'basic', username: mirror.username, password: open(deps.secretKey, mirror.secretSealed, secretContext(mirror.id)) };
}

function checkCredentials(input: { username?: string; password?: string }): void {
  if (Boolean(input.username) !== Boolean(input.password)) throw new AppError('BAD_REQUEST', 'A mirror with credentials needs both a username and a password.');
}

function conflict(error: unknown, input: { site: string }): never {
  if ((error as { code?: unknown })?.code === 'P2002') {
    throw new AppError('CONFLICT', input.site === everySite ? 'This registry already has a mirror for every site.' : `This registry already has a mirror for site "${input.site}".`);
  }
  throw error;
}

/** Mirrors of one registry (or of all), site by site. */
export async function listMirrors(deps: ServiceDeps, filter: { registryId?: string } = {}): Promise<MirrorView[]> {
  const mirrors = await deps.db.mirror.findMany({ where: filter.registryId ? { registryId: filter.registryId } : {}, orderBy: [{ registryId: 'asc' }, { site: 'asc' }] });
  return mirrors.map(mirrorView);
}

/**
 * Adds a mirror. The control plane does not check it answers: a site's mirror may be reachable
 * only from the site, and agents fall back to the registry when it does not answer them.
 */
export async function addMirror(deps: ServiceDeps, actor: Actor, input: MirrorInput): Promise<MirrorView> {
  const normalised = normaliseRegistryHost(input.host);
  const plainHttp = normalised.plainHttp ?? input.plainHttp;
  checkCredentials(input);
  const mirror = await deps.db
    .$transaction(async (tx) => {
      const registry = await tx.registry.findUnique({ where: { id: input.registryId } });
      if (!registry) throw new AppError('NOT_FOUND', 'No such registry: it may have been removed.');
      if (registry.host.toLowerCase() === normalised.host.toLowerCase()) throw new AppError('BAD_REQUEST', 'A mirror must be another host than its registry.');
      const created = await tx.mirror.create({ data: { registryId: registry.id, site: input.site, host: normalised.host, plainHttp, username: input.username || null } });
      // The id is the sealing context, so the secret is sealed once the row exists.
      const withSecret = input.password
        ? await tx.mirror.update({ where: { id: created.id }, data: { secretSealed: new Uint8Array(seal(deps.secretKey, input.password, secretContext(created.id))) } })
        : created;
      await recordAudit(tx, actor, 'mirror.create', { type: 'mirror', id: created.id }, undefined, { ...mirrorView(withSecret), registry: registry.name });
      return withSecret;
    })
    .catch((error: unknown) => conflict(error, input));
  await deps.events.publish({ type: 'registry.updated', registryId: mirror.registryId });
  return mirrorView(mirror);
}

export interface MirrorUpdate {
  id: string;
  host?: string;
  plainHttp?: boolean;
  /** New credentials; `null` removes them; absent keeps them. */
  credentials?: { username: string; password: string } | null;
}

export async function updateMirror(deps: ServiceDeps, actor: Actor, input: MirrorUpdate): Promise<MirrorView> {
  const normalised = input.host === undefined ? undefined : normaliseRegistryHost(input.host);
  const mirror = await deps.db.$transaction(async (tx) => {
    const before = await tx.mirror.findUnique({ where: { id: input.id }, include: { registry: true } });
    if (!before) throw new AppError('NOT_FOUND', 'No such mirror: it may have been removed.');
    const { registry, ...row } = before;
    if (normalised && registry.host.toLowerCase() === normalised.host.toLowerCase()) throw new AppError('BAD_REQUEST', 'A mirror must be another host than its registry.');
    const data: Prisma.MirrorUpdateInput = {};
    if (normalised) data.host = normalised.host;
    const plainHttp = normalised?.plainHttp ?? input.plainHttp;
    if (plainHttp !== undefined) data.plainHttp = plainHttp;
    if (input.credentials === null) Object.assign(data, { username: null, secretSealed: null });
    else if (input.credentials) {
      checkCredentials(input.credentials);
      Object.assign(data, { username: input.credentials.username, secretSealed: new Uint8Array(seal(deps.secretKey, input.credentials.password, secretContext(row.id))) });
    }
    const after = await tx.mirror.update({ where: { id: row.id }, data });
    await recordAudit(tx, actor, 'mirror.update', { type: 'mirror', id: row.id }, mirrorView(row), mirrorView(after));
    return after;
  });
  await deps.events.publish({ type: 'registry.updated', registryId: mirror.registryId });
  return mirrorView(mirror);
}

export async function removeMirror(deps: ServiceDeps, actor: Actor, input: { id: string }): Promise<{ id: string }> {
  const removed = await deps.db.$transaction(async (tx) => {
    const before = await tx.mirror.findUnique({ where: { id: input.id } });
    if (!before) throw new AppError('NOT_FOUND', 'No such mirror: it may have been removed.');
    await tx.mirror.delete({ where: { id: before.id } });
    await recordAudit(tx, actor, 'mirror.delete', { type: 'mirror', id: before.id }, mirrorView(before));
    return before;
  });
  await deps.events.publish({ type: 'registry.updated', registryId: removed.registryId });
  return { id: removed.id };
}

/** The mirror a node of `site` pulls this registry through: the site's own, else the every-site one. */
export async function mirrorForSite(deps: ServiceDeps, registryId: string, site: string | undefined): Promise<Mirror | null> {
  const sites = site && site !== everySite ? [site, everySite] : [everySite];
  // Read once per registry and site every few seconds in a process: a rollout dispatches to a
  // thousand nodes of a site within seconds, and each dispatch would ask the same question.
  return sharedRead(deps, `mirror ${registryId} ${sites.join(' ')}`, siteMirrorTtlMs, () =>
    deps.db.mirror.findMany({ where: { registryId, site: { in: sites } } }).then((mirrors) => mirrors.find((m) => m.site !== everySite) ?? mirrors[0] ?? null),
  );
}

/** How long a process answers which mirror serves a registry and site from what it read: a mirror added or removed counts within this. */
const siteMirrorTtlMs = 2_000;

/**
 * What an agent gets to pull through a mirror for one job: like registryAccess, with the grant
 * sealed under the mirror's own context (mirrorGrantContext) so it cannot stand in for the registry's.
 */
export async function mirrorAccess(deps: ServiceDeps, mirror: Mirror, job: PullJob): Promise<RegistryAccess> {
  const target = { id: mirror.id, host: mirror.host, plainHttp: mirror.plainHttp, credential: credentialOf(deps, mirror) };
  return pullAccess(deps, target, job, mirrorGrantContext(job.syncJobId));
}

/**
 * The mirror access a sync dispatch carries for a node: the mirror of its `site` label's site (or
 * the every-site one) for the image's registry, undefined when there is none.
 */
export async function siteMirrorAccess(deps: ServiceDeps, input: { registryId: string; nodeLabels: unknown; job: PullJob }): Promise<RegistryAccess | undefined> {
  const labels = input.nodeLabels as Record<string, unknown> | null;
  const site = typeof labels?.site === 'string' ? labels.site : undefined;
  const mirror = await mirrorForSite(deps, input.registryId, site);
  return mirror ? mirrorAccess(deps, mirror, input.job) : undefined;
}
