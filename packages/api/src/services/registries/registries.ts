// Connected registries. Credentials are sealed with AES-256-GCM before they touch the database
// and opened only in the server process that talks to the registry; list and get never return them.
import type { Registry, RegistryAuthKind } from '@cider/db';
import { dockerHubApiHost, dockerHubDomain, isOciError, parseReference, RegistryClient, StaticCredentials, type Credential } from '@cider/oci';
import { grantContext, sealBox, type RegistryAccess, type RegistryGrant } from '@cider/protocol';
import { AppError } from '../../errors.ts';
import { open, seal } from '../../secrets.ts';
import { recordAudit } from '../audit/record.ts';
import { nameTaken } from '../names.ts';
import { PullGrantCache } from '../sync/pull-grant-cache.ts';
import type { Actor, ServiceDeps } from '../deps.ts';

export interface RegistryInput {
  name: string;
  host: string;
  plainHttp: boolean;
  authKind: RegistryAuthKind;
  username?: string;
  password?: string;
  immutableTags?: boolean;
}

/** What a browser may see of a registry. */
export interface RegistryView {
  id: string;
  name: string;
  host: string;
  plainHttp: boolean;
  authKind: RegistryAuthKind;
  username: string | null;
  hasPassword: boolean;
  immutableTags: boolean;
  lastCheckedAt: Date | null;
  lastError: string | null;
  createdAt: Date;
}

export function registryView(registry: Registry): RegistryView {
  return {
    id: registry.id,
    name: registry.name,
    host: registry.host,
    plainHttp: registry.plainHttp,
    authKind: registry.authKind,
    username: registry.username,
    hasPassword: registry.secretSealed !== null,
    immutableTags: registry.immutableTags,
    lastCheckedAt: registry.lastCheckedAt,
    lastError: registry.lastError,
    createdAt: registry.createdAt,
  };
}

/** Accepts `host[:port]`, also pasted as a URL, and returns the normalised host. */
export function normaliseRegistryHost(input: string): { host: string; plainHttp?: boolean } {
  let value = input.trim();
  let plainHttp: boolean | undefined;
  const scheme = /^(https?):\/\//i.exec(value);
  if (scheme) {
    plainHttp = scheme[1]!.toLowerCase() === 'http';
    value = value.slice(scheme[0].length);
  }
  value = value.replace(/\/+$/, '');
  if (value.includes('/')) throw new AppError('BAD_REQUEST', `"${input}" is not a registry host: give host[:port] without a path, e.g. registry.example.com or 127.0.0.1:5000`);
  try {
    const ref = parseReference(`${value}/probe`);
    if (ref.registry !== value) throw new Error('not a host');
  } catch {
    throw new AppError('BAD_REQUEST', `"${input}" is not a valid registry host[:port]`);
  }
  return plainHttp === undefined ? { host: value } : { host: value, plainHttp };
}

/** Turns registry-client errors into messages for people, with the right error code. */
export function fromOciError(error: unknown, context: string): AppError {
  if (error instanceof AppError) return error;
  if (isOciError(error)) {
    const code =
      error.code === 'UNREACHABLE'
        ? 'REGISTRY_UNREACHABLE'
        : error.code === 'UNAUTHORIZED' || error.code === 'DENIED'
          ? 'REGISTRY_AUTH'
          : error.code === 'NOT_FOUND'
            ? 'NOT_FOUND'
            : error.code === 'INVALID_REFERENCE' || error.code === 'INVALID_DIGEST'
              ? 'BAD_REQUEST'
              : 'REGISTRY_ERROR';
    return new AppError(code, error.message, { cause: error });
  }
  return new AppError('INTERNAL', `${context}: ${(error as Error)?.message ?? String(error)}`, { cause: error });
}

export function credentialOf(deps: ServiceDeps, registry: Pick<Registry, 'id' | 'authKind' | 'username' | 'secretSealed'>): Credential | undefined {
  if (registry.authKind !== 'basic' || !registry.username || !registry.secretSealed) return undefined;
  return { kind: 'basic', username: registry.username, password: open(deps.secretKey, registry.secretSealed, `registry:${registry.id}`) };
}

/** A registry client holding this one registry's credential. Close it when done. */
export function clientFor(deps: ServiceDeps, registry: Registry): RegistryClient {
  return clientWith(deps, { host: registry.host, plainHttp: registry.plainHttp, credential: credentialOf(deps, registry) });
}

/** One client holding the credentials of several registries (a bundle of a project's pins may span them). Close it when done. */
export function clientForRegistries(deps: ServiceDeps, registries: Registry[]): RegistryClient {
  const credentials: Record<string, Credential> = {};
  for (const registry of registries) {
    const credential = credentialOf(deps, registry);
    if (credential) credentials[registry.host] = credential;
  }
  return new RegistryClient({
    ...deps.registryClientOptions,
    credentials: new StaticCredentials(credentials),
    plainHttp: registries.filter((r) => r.plainHttp).map((r) => r.host),
  });
}

function clientWith(deps: ServiceDeps, target: Pick<PullTarget, 'host' | 'plainHttp' | 'credential'>): RegistryClient {
  return new RegistryClient({
    ...deps.registryClientOptions,
    credentials: new StaticCredentials(target.credential ? { [target.host]: target.credential } : {}),
    plainHttp: target.plainHttp ? [target.host] : false,
  });
}

/** A place an agent pulls from for a job: a registry, or a mirror of one (./mirrors.ts). */
export interface PullTarget {
  /** Tells apart the shared grants of different targets: the registry's or mirror's id. */
  id: string;
  host: string;
  plainHttp: boolean;
  credential: Credential | undefined;
}

const pullGrants = new PullGrantCache();

/**
 * What an agent gets to pull from a registry for one job: the registry's address and, when it
 * needs credentials, a grant sealed to the node's own key for this job only.
 */
export async function registryAccess(deps: ServiceDeps, registry: Registry, job: PullJob): Promise<RegistryAccess> {
  const target = { id: registry.id, host: registry.host, plainHttp: registry.plainHttp, credential: credentialOf(deps, registry) };
  return pullAccess(deps, target, job, grantContext(job.syncJobId));
}

export interface PullJob {
  syncJobId: string;
  nodePublicKey: string | null;
  repository: string;
  /** A renewal after the agent's token expired or was refused, so not the shared one. */
  fresh?: boolean;
}

/** registryAccess for any pull target; the grant is sealed to the node with `sealContext`. */
export async function pullAccess(deps: ServiceDeps, target: PullTarget, job: PullJob, sealContext: string): Promise<RegistryAccess> {
  const { credential } = target;
  const access: RegistryAccess = { host: target.host, plainHttp: target.plainHttp };
  if (credential?.kind !== 'basic') return access;
  if (!job.nodePublicKey) throw new AppError('FORBIDDEN', 'This node has no public key to seal registry credentials to; upgrade and restart its agent.');
  // Where the registry speaks token auth, the password stays here: the agent gets a token that
  // can pull this one repository for a few minutes. Only a Basic-only registry gets the password.
  const cacheKey = `${target.id} ${credential.username} ${job.repository}`;
  const issue = async () => {
    const client = clientWith(deps, target);
    try {
      return await client.pullGrant(target.host, job.repository);
    } catch (error) {
      throw fromOciError(error, `Getting a pull grant for ${job.repository} from ${target.host}`);
    } finally {
      await client.close();
    }
  };
  const pull = job.fresh ? await issue() : await pullGrants.fetch(cacheKey, issue);
  if (pull.kind === 'anonymous') return access;
  const grant: RegistryGrant =
    pull.kind === 'bearer'
      ? { kind: 'bearer', token: pull.token, expiresAt: pull.expiresAt, scope: pull.scope }
      : { kind: 'basic', username: credential.username, password: credential.password };
  return { ...access, grant: sealBox(job.nodePublicKey, JSON.stringify(grant), sealContext) };
}

/** Checks a registry answers the OCI API with these settings; throws an AppError saying why not. */
export async function ping(deps: ServiceDeps, input: { host: string; plainHttp: boolean; authKind: RegistryAuthKind; username?: string; password?: string }): Promise<void> {
  const credentials =
    input.authKind === 'basic' && input.username
      ? new StaticCredentials({ [input.host]: { kind: 'basic', username: input.username, password: input.password ?? '' } })
      : undefined;
  const client = new RegistryClient({
    ...deps.registryClientOptions,
    credentials,
    plainHttp: input.plainHttp ? [input.host] : false,
    retry: { retries: 1, baseDelayMs: 200, maxDelayMs: 500 },
  });
  try {
    await client.ping(input.host);
  } catch (error) {
    if (isOciError(error, 'UNAUTHORIZED') && input.authKind === 'none') {
      throw new AppError('REGISTRY_AUTH', `Registry ${input.host} requires a username and password.`, { cause: error });
    }
    throw fromOciError(error, `Checking registry ${input.host}`);
  } finally {
    await client.close();
  }
}

/** Checks a registry answers the OCI API with these settings; throws an AppError saying why not. */
export async function testRegistryConnection(deps: ServiceDeps, input: RegistryInput): Promise<void> {
  const { host, plainHttp } = normaliseRegistryHost(input.host);
  await ping(deps, { ...input, host, plainHttp: plainHttp ?? input.plainHttp });
}

export async function createRegistry(deps: ServiceDeps, actor: Actor, input: RegistryInput): Promise<RegistryView> {
  const normalised = normaliseRegistryHost(input.host);
  const host = normalised.host;
  const plainHttp = normalised.plainHttp ?? input.plainHttp;
  if (input.authKind === 'basic' && (!input.username || !input.password)) {
    throw new AppError('BAD_REQUEST', 'Basic authentication needs a username and a password.');
  }
  const clash = await deps.db.registry.findFirst({ where: { OR: [{ host: { equals: host, mode: 'insensitive' } }, { name: input.name }] } });
  if (clash) throw clash.host.toLowerCase() === host.toLowerCase() ? new AppError('CONFLICT', `Registry ${host} is already connected as "${clash.name}".`) : nameTaken('registry', input.name, clash.name);
  await ping(deps, { ...input, host, plainHttp });

  const registry = await deps.db.$transaction(async (tx) => {
    const created = await tx.registry.create({
      data: {
        name: input.name,
        host,
        plainHttp,
        authKind: input.authKind,
        username: input.authKind === 'basic' ? input.username! : null,
        immutableTags: input.immutableTags ?? false,
        lastCheckedAt: new Date(),
      },
    });
    // The id is the sealing context, so the secret is sealed once the row exists.
    const withSecret =
      input.authKind === 'basic'
        ? await tx.registry.update({ where: { id: created.id }, data: { secretSealed: new Uint8Array(seal(deps.secretKey, input.password!, `registry:${created.id}`)) } })
        : created;
    await recordAudit(tx, actor, 'registry.create', { type: 'registry', id: created.id }, undefined, registryView(withSecret));
    return withSecret;
  });
  await deps.events.publish({ type: 'registry.updated', registryId: registry.id });
  return registryView(registry);
}

/** Tags the registry watcher saw move on a registry with immutable tags (audit `tag.moved`). */
export interface MovedTags {
  count: number;
  lastReference: string | null;
  lastAt: Date | null;
}

export async function listRegistries(deps: ServiceDeps): Promise<(RegistryView & { movedTags: MovedTags })[]> {
  const registries = await deps.db.registry.findMany({ orderBy: { name: 'asc' } });
  const moves = await deps.db.auditEvent.findMany({
    where: { action: 'tag.moved', targetType: 'registry', targetId: { in: registries.map((r) => r.id) } },
    orderBy: { at: 'desc' },
    select: { targetId: true, at: true, after: true },
    take: 1_000,
  });
  const moved = new Map<string, MovedTags>();
  for (const move of moves) {
    const entry = moved.get(move.targetId!);
    if (entry) entry.count++;
    else {
      const reference = (move.after as { reference?: unknown } | null)?.reference;
      moved.set(move.targetId!, { count: 1, lastReference: typeof reference === 'string' ? reference : null, lastAt: move.at });
    }
  }
  return registries.map((registry) => ({ ...registryView(registry), movedTags: moved.get(registry.id) ?? { count: 0, lastReference: null, lastAt: null } }));
}

/** Re-checks a stored registry and records the outcome. */
export async function checkRegistry(deps: ServiceDeps, registryId: string): Promise<RegistryView> {
  const registry = await deps.db.registry.findUnique({ where: { id: registryId } });
  if (!registry) throw new AppError('NOT_FOUND', 'No such registry.');
  const credential = credentialOf(deps, registry);
  let lastError: string | null = null;
  try {
    await ping(deps, {
      host: registry.host,
      plainHttp: registry.plainHttp,
      authKind: registry.authKind,
      username: credential?.kind === 'basic' ? credential.username : undefined,
      password: credential?.kind === 'basic' ? credential.password : undefined,
    });
  } catch (error) {
    lastError = error instanceof Error ? error.message : String(error);
  }
  const updated = await deps.db.registry.update({ where: { id: registry.id }, data: { lastCheckedAt: new Date(), lastError } });
  await deps.events.publish({ type: 'registry.updated', registryId: registry.id });
  return registryView(updated);
}


/**
 * Turns immutable tags on or off for a registry. The registry (or its proxy) enforces it on push
 * and `cider push` checks it first (registries.tagPolicy); the registry watcher flags any tag that
 * moves anyway (watch.ts).
 */
export async function setRegistryImmutableTags(deps: ServiceDeps, actor: Actor, input: { id: string; immutableTags: boolean }): Promise<RegistryView> {
  const result = await deps.db.$transaction(async (tx) => {
    const before = await tx.registry.findUnique({ where: { id: input.id } });
    if (!before) throw new AppError('NOT_FOUND', 'No such registry: it may have been removed.');
    if (before.immutableTags === input.immutableTags) return { registry: before, changed: false };
    const after = await tx.registry.update({ where: { id: before.id }, data: { immutableTags: input.immutableTags } });
    await recordAudit(tx, actor, 'registry.immutable-tags', { type: 'registry', id: before.id }, registryView(before), registryView(after));
    return { registry: after, changed: true };
  });
  if (result.changed) await deps.events.publish({ type: 'registry.updated', registryId: result.registry.id });
  return registryView(result.registry);
}

export interface TagPolicy {
  /** The connected registry for this host, without credentials or settings; null when none is. */
  registry: { id: string; name: string; host: string } | null;
  immutableTags: boolean;
}

const dockerHubAliases = [dockerHubDomain, dockerHubApiHost, 'index.docker.io'];

/**
 * The tag policy of the registry at `host` (host[:port], case-insensitive), for clients about to
 * push: `cider push` refuses to overwrite a tag on a registry with immutable tags. A host that is
 * not connected has no policy: tags may move.
 */
export async function registryTagPolicy(deps: ServiceDeps, input: { host: string }): Promise<TagPolicy> {
  const host = normaliseRegistryHost(input.host).host.toLowerCase();
  const candidates = dockerHubAliases.includes(host) ? dockerHubAliases : [host];
  const registry = await deps.db.registry.findFirst({
    where: { OR: candidates.map((h) => ({ host: { equals: h, mode: 'insensitive' as const } })) },
    select: { id: true, name: true, host: true, immutableTags: true },
    orderBy: { createdAt: 'asc' },
  });
  return registry ? { registry: { id: registry.id, name: registry.name, host: registry.host }, immutableTags: registry.immutableTags } : { registry: null, immutableTags: false };
}
