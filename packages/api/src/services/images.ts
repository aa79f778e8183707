// Browsing images in connected registries: repositories from the catalog, tags, and one tag or
// digest laid out for people (sizes, annotations, Cider's config fields, platforms), with the
// nodes holding it and the pins asking for it. Registry access goes through clientFor, so
// credentials stay in this process; registry errors become AppErrors through fromOciError.
import type { Registry } from '@cider/db';
import {
  Annotation,
  CiderMediaType,
  isIndex,
  isIndexMediaType,
  isOciError,
  isReferrersTag,
  listReferrers,
  manifestContentSize,
  MediaType,
  paginate,
  parseReference,
  readJsonPage,
  RegistryError,
  sha256,
  type Descriptor,
  type Digest,
  type FetchedManifest,
  type ImageManifest,
  type RegistryClient,
} from '@cider/oci';
import { AppError } from '../errors.ts';
import type { ServiceDeps } from './deps.ts';
import { nodeStatus } from './fleet.ts';
import { clientFor, fromOciError } from './registries.ts';

/** Catalog and tag lists change rarely and pages refetch on every fleet event: keep them briefly. */
const listTtlMs = 15_000;
/** Content addressed by digest never changes. */
const forever = Number.POSITIVE_INFINITY;
/** Config blobs larger than this are described, not fetched. */
export const maxConfigBytes = 1024 * 1024;
/** Tags whose digest is looked up for the tags table (HEAD each); the rest show on their own page. */
export const maxResolvedTags = 100;
const maxPlatforms = 32;
/** Referrers are attached after the image (signatures, SBOMs, release notes): keep the list only briefly. */
const referrersTtlMs = 5_000;
/** Referrers shown on an image's page; the rest are counted. */
export const maxReferrers = 100;
/** Payload files listed from a Cider config. */
const maxConfigFiles = 64;

/**
 * Browsing answers a person waiting on a page (refetched on fleet events): a registry that is
 * down should say so in a second or two, not after a pull's patient retries.
 */
function browseClient(deps: ServiceDeps, registry: Registry): RegistryClient {
  return clientFor({ ...deps, registryClientOptions: { retry: { retries: 1, baseDelayMs: 200, maxDelayMs: 1_000 }, stallTimeoutMs: 20_000, ...deps.registryClientOptions } }, registry);
}

// --- a small process-wide cache (in-flight lookups are shared; failures are not remembered) ---

const cache = new Map<string, { at: number; ttl: number; value: Promise<unknown> }>();
const maxCacheEntries = 2_000;
/** Manifests and configs above this are not kept, so the cache stays a few MiB at most. */
const maxCachedBytes = 64 * 1024; // a Cider config with piece digests: about 18 KB per 15 GB

/** `keep` decides, once the value is there, whether it is worth keeping beyond this call. */
function remember<T>(key: string, ttlMs: number, load: () => Promise<T>, keep: (value: T) => boolean = () => true): Promise<T> {
  const hit = cache.get(key);
  if (hit && Date.now() - hit.at < hit.ttl) return hit.value as Promise<T>;
  const value = load();
  cache.set(key, { at: Date.now(), ttl: ttlMs, value });
  const drop = () => {
    if (cache.get(key)?.value === value) cache.delete(key);
  };
  value.then((v) => (keep(v) ? undefined : drop()), drop);
  if (cache.size > maxCacheEntries) cache.delete(cache.keys().next().value!);
  return value;
}

/** Cache keys change with the registry's settings, so new credentials never see old answers. */
function cacheKey(registry: Registry, ...parts: string[]): string {
  return [registry.id, registry.updatedAt.getTime(), ...parts].join('\u0000');
}

async function mapConcurrent<T, R>(items: readonly T[], limit: number, run: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await run(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

// --- the catalog ---

/** Repository names are at most this long in practice (distribution limits the whole reference to 255). */
const maxRepositoryNameLength = 255;

/**
 * Repository names from `GET /v2/_catalog` (distribution's catalog extension; the OCI spec leaves
 * it optional), following pagination: the Link header, else `n` and `last`. Bounded by @cider/oci's
 * paginate: a page cap, a Link loop or a Link to another origin is an error, and past `limit`
 * names the list is cut and flagged `truncated`. A page adding nothing new ends it, so registries
 * that ignore `n` or `last` cannot loop either.
 */
export async function listRepositories(
  client: RegistryClient,
  registry: string,
  options: { pageSize?: number; limit?: number } = {},
): Promise<{ repositories: string[]; truncated: boolean }> {
  const pageSize = options.pageSize ?? 100;
  const what = 'the repository catalog (GET /v2/_catalog)';
  const listed = await paginate<string>({
    transport: client.transport(registry),
    first: `/v2/_catalog?n=${pageSize}`,
    scopes: ['registry:catalog:*'],
    what,
    readPage: async (response) => {
      const page = await readJsonPage(response, registry, what);
      return Array.isArray(page.repositories) ? page.repositories.filter((n): n is string => typeof n === 'string' && n.length > 0 && n.length <= maxRepositoryNameLength) : [];
    },
    nextWithoutLink: (names) => (names.length >= pageSize ? `/v2/_catalog?n=${pageSize}&last=${encodeURIComponent(names.at(-1)!)}` : undefined),
    maxItems: options.limit ?? 10_000,
  });
  return { repositories: listed.items, truncated: listed.truncated };
}

/** Why a registry's catalog can't be listed, when the reason is "it doesn't offer one to us". */
function catalogRefusal(error: unknown): string | undefined {
  if (isOciError(error, 'NOT_FOUND')) return 'it has no catalog API (HTTP 404)';
  if (isOciError(error, 'UNAUTHORIZED') || isOciError(error, 'DENIED')) return 'it does not allow these credentials to list repositories';
  if (error instanceof RegistryError) {
    if (error.errors.some((e) => e.code === 'UNSUPPORTED')) return 'it reports the catalog API as unsupported';
    if ([400, 405, 501].includes(error.request.status)) return `it refused the catalog request (HTTP ${error.request.status})`;
  }
  return undefined;
}

export type Catalog = { available: true; repositories: string[]; truncated: boolean } | { available: false; reason: string };

async function catalogOf(deps: ServiceDeps, registry: Registry): Promise<Catalog> {
  return remember(cacheKey(registry, 'catalog'), listTtlMs, async () => {
    const client = browseClient(deps, registry);
    try {
      const { repositories, truncated } = await listRepositories(client, registry.host);
      return { available: true, repositories: repositories.sort(), truncated };
    } catch (error) {
      const refusal = catalogRefusal(error);
      if (refusal) {
        return { available: false, reason: `${registry.host} does not list its repositories: ${refusal}. Many hosted registries disable the catalog; open a repository by name instead.` };
      }
      throw fromOciError(error, `Listing the repositories of ${registry.host}`);
    } finally {
      await client.close();
    }
  });
}

async function loadRegistry(deps: ServiceDeps, registryId: string): Promise<Registry> {
  const registry = await deps.db.registry.findUnique({ where: { id: registryId } });
  if (!registry) throw new AppError('NOT_FOUND', 'No such registry: it may have been removed.');
  return registry;
}

function registrySummary(registry: Registry) {
  return { id: registry.id, name: registry.name, host: registry.host };
}

/** Every connected registry with how many repositories its catalog lists (or why it can't). */
export async function imageRegistries(deps: ServiceDeps) {
  const registries = await deps.db.registry.findMany({ orderBy: { name: 'asc' } });
  return Promise.all(
    registries.map(async (registry) => {
      try {
        const catalog = await catalogOf(deps, registry);
        return catalog.available
          ? { ...registrySummary(registry), repositoryCount: catalog.repositories.length, truncated: catalog.truncated, catalogError: null }
          : { ...registrySummary(registry), repositoryCount: null, truncated: false, catalogError: catalog.reason };
      } catch (error) {
        return { ...registrySummary(registry), repositoryCount: null, truncated: false, catalogError: (error as Error).message };
      }
    }),
  );
}

/** One registry's repositories, each with the number of pins on it (from our own database). */
export async function registryRepositories(deps: ServiceDeps, registryId: string) {
  const registry = await loadRegistry(deps, registryId);
  const [catalog, pins] = await Promise.all([
    catalogOf(deps, registry),
    deps.db.pin.groupBy({ by: ['repository'], where: { registryId }, _count: { id: true } }),
  ]);
  const pinCounts = new Map(pins.map((p) => [p.repository, p._count.id]));
  return {
    registry: registrySummary(registry),
    catalog: catalog.available
      ? { available: true as const, truncated: catalog.truncated, repositories: catalog.repositories.map((name) => ({ name, pins: pinCounts.get(name) ?? 0 })) }
      : catalog,
  };
}

// --- tags ---

function checkRepository(registry: Registry, repository: string): string {
  try {
    const ref = parseReference(`${registry.host}/${repository}`);
    if (ref.repository === repository) return repository;
  } catch {
    // reported below
  }
  throw new AppError('BAD_REQUEST', `"${repository}" is not a repository name: lowercase path components like demo/macos.`);
}

async function withClient<T>(deps: ServiceDeps, registry: Registry, what: string, run: (client: RegistryClient) => Promise<T>): Promise<T> {
  const client = browseClient(deps, registry);
  try {
    return await run(client);
  } catch (error) {
    throw fromOciError(error, what);
  } finally {
    await client.close();
  }
}

const byVersionDescending = new Intl.Collator('en', { numeric: true }).compare;

/** Tags of a repository, newest-looking first, with their digests and who pins or holds them. */
export async function repositoryTags(deps: ServiceDeps, input: { registryId: string; repository: string }) {
  const registry = await loadRegistry(deps, input.registryId);
  const repository = checkRepository(registry, input.repository);
  const { tags, resolved } = await withClient(deps, registry, `Listing the tags of ${repository}`, async (client) => {
    const repo = client.repository(registry.host, repository);
    // Referrers fallback tags (`sha256-<hex>`) are bookkeeping, listed on the image they refer to instead.
    const tags = (await remember(cacheKey(registry, 'tags', repository), listTtlMs, () => repo.listTags({ pageSize: 1000 }))).filter((tag) => !isReferrersTag(tag));
    tags.sort((a, b) => byVersionDescending(b, a));
    const resolved = await mapConcurrent(tags.slice(0, maxResolvedTags), 8, (tag) =>
      remember(cacheKey(registry, 'tag', repository, tag), listTtlMs, () => repo.resolve(tag)).catch(() => undefined),
    );
    return { tags, resolved };
  });
  const digests = resolved.flatMap((d) => (d ? [d.digest] : []));
  const [pins, held] = await Promise.all([
    deps.db.pin.findMany({ where: { registryId: registry.id, repository }, include: { project: { select: { id: true, name: true } } }, orderBy: { createdAt: 'asc' } }),
    deps.db.nodeImage.groupBy({ by: ['digest'], where: { digest: { in: digests } }, _count: { nodeId: true } }),
  ]);
  const nodes = new Map(held.map((h) => [h.digest, h._count.nodeId]));
  return {
    registry: registrySummary(registry),
    repository,
    truncated: tags.length > maxResolvedTags,
    tags: tags.map((name, i) => {
      const descriptor = resolved[i];
      return {
        name,
        digest: descriptor?.digest ?? null,
        mediaType: descriptor?.mediaType ?? null,
        nodes: descriptor ? (nodes.get(descriptor.digest) ?? 0) : 0,
        pins: pins
          .filter((p) => p.tag === name)
          .map((p) => ({ id: p.id, projectId: p.project.id, projectName: p.project.name, mode: p.mode, digest: p.digest, current: descriptor ? p.digest === descriptor.digest : true })),
      };
    }),
  };
}

// --- one image ---

/** One payload file of a Cider config (`files[]`), as far as the dashboard shows it. */
export interface CiderConfigFile {
  name: string | null;
  kind: string | null;
  mediaType: string | null;
  size: number | null;
  digest: string | null;
  /** Layers the file was stored as (more than one when it was split with --chunk-size). */
  parts: number;
}

/** Cider's config blob (DESIGN.md "Image format"); every field optional, since others push too. */
export interface CiderConfig {
  os: string | null;
  version: string | null;
  build: string | null;
  architecture: string | null;
  devices: string[];
  payload: { name: string | null; size: number | null } | null;
  /** `created` from the config, else the manifest's org.opencontainers.image.created annotation. */
  created: string | null;
  files: CiderConfigFile[];
  /** Files beyond the ones listed. */
  moreFiles: number;
}

const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
const size = (v: unknown): number | null => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : null);
const record = (v: unknown): Record<string, unknown> | undefined => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);

function parseConfigFile(raw: unknown): CiderConfigFile | undefined {
  const f = record(raw);
  if (!f) return undefined;
  return {
    name: str(f.name),
    kind: str(f.kind),
    mediaType: str(f.mediaType),
    size: size(f.size),
    digest: str(f.digest),
    parts: Array.isArray(f.parts) ? f.parts.length : 0,
  };
}

export function parseCiderConfig(json: unknown, layers: Descriptor[], annotations?: Record<string, string>): CiderConfig {
  const c = record(json) ?? {};
  const p = record(c.payload);
  const files = Array.isArray(c.files) ? c.files.flatMap((f) => parseConfigFile(f) ?? []) : [];
  const name = str(p?.name);
  const payloadLayer = layers.find((l) => name !== null && l.annotations?.[Annotation.title] === name) ?? layers.find((l) => l.mediaType === CiderMediaType.ipsw);
  const payloadFile = name !== null ? files.find((f) => f.name === name) : undefined;
  return {
    os: str(c.os),
    version: str(c.version),
    build: str(c.build),
    architecture: str(c.architecture),
    devices: Array.isArray(c.devices) ? c.devices.filter((d): d is string => typeof d === 'string') : [],
    payload:
      p || payloadLayer
        ? { name: name ?? payloadLayer?.annotations?.[Annotation.title] ?? null, size: size(p?.size) ?? payloadFile?.size ?? payloadLayer?.size ?? null }
        : null,
    created: str(c.created) ?? str(annotations?.[Annotation.created]),
    files: files.slice(0, maxConfigFiles),
    moreFiles: Math.max(0, files.length - maxConfigFiles),
  };
}

function isJsonMediaType(mediaType: string): boolean {
  return mediaType === 'application/json' || mediaType.endsWith('+json');
}

/** A small JSON config blob, verified against its digest; `data` inline when the descriptor has it. */
async function fetchConfigJson(client: RegistryClient, registry: Registry, repository: string, config: Descriptor): Promise<unknown> {
  return remember(cacheKey(registry, 'blob', config.digest), config.size <= maxCachedBytes ? forever : 0, async () => {
    let bytes: Buffer;
    if (config.data) {
      bytes = Buffer.from(config.data, 'base64');
    } else {
      const blob = await client.repository(registry.host, repository).fetchBlob(config.digest);
      bytes = await blob.body.buffer(maxConfigBytes);
    }
    if (sha256(bytes) !== config.digest) throw new AppError('REGISTRY_ERROR', `The config blob of this image does not match its digest ${config.digest}.`);
    return JSON.parse(bytes.toString('utf8')) as unknown;
  });
}

async function manifestByDigest(client: RegistryClient, registry: Registry, repository: string, digest: Digest): Promise<FetchedManifest> {
  return remember(
    cacheKey(registry, 'manifest', repository, digest),
    forever,
    () => client.repository(registry.host, repository).fetchManifest(digest),
    (fetched) => fetched.bytes.length <= maxCachedBytes,
  );
}

function annotationsOf(annotations: Record<string, string> | undefined) {
  return {
    title: annotations?.[Annotation.title] ?? null,
    version: annotations?.[Annotation.version] ?? null,
    created: annotations?.[Annotation.created] ?? null,
    description: annotations?.[Annotation.description] ?? null,
    source: annotations?.[Annotation.source] ?? null,
  };
}

async function describeManifest(client: RegistryClient, registry: Registry, repository: string, fetched: FetchedManifest) {
  const manifest = fetched.manifest as ImageManifest;
  const config = manifest.config;
  let cider: CiderConfig | null = null;
  let platform: { os: string | null; architecture: string | null } | null = null;
  let configNote: string | null = null;
  const wanted = config.mediaType === CiderMediaType.config || config.mediaType === MediaType.ociConfig || config.mediaType === 'application/vnd.docker.container.image.v1+json';
  if (wanted && config.size > maxConfigBytes) configNote = `The config blob is ${config.size} bytes; only configs under 1 MiB are read.`;
  else if (wanted && isJsonMediaType(config.mediaType)) {
    try {
      const json = await fetchConfigJson(client, registry, repository, config);
      if (config.mediaType === CiderMediaType.config) cider = parseCiderConfig(json, manifest.layers, manifest.annotations);
      else {
        const c = (json ?? {}) as Record<string, unknown>;
        platform = { os: str(c.os), architecture: str(c.architecture) };
      }
    } catch (error) {
      configNote = `The config blob could not be read: ${error instanceof Error ? error.message : String(error)}`;
    }
  }
  return {
    kind: 'manifest' as const,
    config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
    totalSize: manifestContentSize(manifest),
    layers: manifest.layers.map((l) => ({ title: l.annotations?.[Annotation.title] ?? null, mediaType: l.mediaType, size: l.size, digest: l.digest })),
    cider,
    platform,
    configNote,
  };
}

/** What an image's page shows of one referrer (a signature, an SBOM, release notes...). */
export interface ReferrerView {
  digest: string;
  mediaType: string;
  artifactType: string | null;
  size: number;
  annotations: { created: string | null; title: string | null; description: string | null };
}

export interface Referrers {
  referrers: ReferrerView[];
  /** Why the list is empty or short although there may be more: listing failed, or was cut. */
  referrersNote: string | null;
}

/**
 * The referrers of a manifest (the OCI referrers API, else the `sha256-<hex>` tag that
 * distribution 2.8 needs), kept a few seconds since referrers are attached after the image. A
 * failure never breaks the page: the list is empty and the note says why.
 */
async function referrersOf(client: RegistryClient, registry: Registry, repository: string, digest: Digest): Promise<Referrers> {
  let descriptors: Descriptor[];
  try {
    descriptors = await remember(cacheKey(registry, 'referrers', repository, digest), referrersTtlMs, () => listReferrers(client.repository(registry.host, repository), digest));
  } catch (error) {
    return { referrers: [], referrersNote: `The referrers of this image could not be listed: ${error instanceof Error ? error.message : String(error)}` };
  }
  const referrers = descriptors.slice(0, maxReferrers).map((d) => ({
    digest: d.digest,
    mediaType: d.mediaType,
    artifactType: d.artifactType ?? null,
    size: d.size,
    annotations: {
      created: d.annotations?.[Annotation.created] ?? null,
      title: d.annotations?.[Annotation.title] ?? null,
      description: d.annotations?.[Annotation.description] ?? null,
    },
  }));
  const more = descriptors.length - referrers.length;
  return { referrers, referrersNote: more > 0 ? `${more} more referrers are not shown.` : null };
}

async function describeIndex(client: RegistryClient, registry: Registry, repository: string, fetched: FetchedManifest) {
  if (!isIndex(fetched.manifest)) throw new Error('not an index');
  const children = fetched.manifest.manifests;
  const platforms = await mapConcurrent(children.slice(0, maxPlatforms), 6, async (child) => {
    const base = {
      os: child.platform?.os ?? null,
      architecture: child.platform?.architecture ?? null,
      variant: child.platform?.variant ?? null,
      osVersion: child.platform?.['os.version'] ?? null,
      digest: child.digest,
      mediaType: child.mediaType,
      artifactType: child.artifactType ?? null,
      manifestSize: child.size,
      totalSize: null as number | null,
      title: child.annotations?.[Annotation.title] ?? null,
    };
    if (isIndexMediaType(child.mediaType)) return base;
    try {
      const inner = await manifestByDigest(client, registry, repository, child.digest);
      if (isIndex(inner.manifest)) return base;
      return { ...base, artifactType: base.artifactType ?? inner.manifest.artifactType ?? null, totalSize: manifestContentSize(inner.manifest), title: base.title ?? inner.manifest.annotations?.[Annotation.title] ?? null };
    } catch {
      return base;
    }
  });
  return { kind: 'index' as const, platforms, morePlatforms: Math.max(0, children.length - maxPlatforms) };
}

/**
 * One tag or digest of a repository: what it is (digest, media and artifact type, sizes,
 * annotations, layers, Cider's config fields or an index's platforms), which nodes hold it, and
 * which pins use it. A tag is resolved on every call (tags move); content by digest is cached.
 */
export async function imageDetail(deps: ServiceDeps, input: { registryId: string; repository: string; reference: string }) {
  const registry = await loadRegistry(deps, input.registryId);
  const repository = checkRepository(registry, input.repository);
  const byDigest = input.reference.includes(':');
  const described = await withClient(deps, registry, `Reading ${repository}:${input.reference}`, async (client) => {
    const repo = client.repository(registry.host, repository);
    const digest = byDigest ? (input.reference as Digest) : (await repo.resolve(input.reference)).digest;
    const fetched = await manifestByDigest(client, registry, repository, digest);
    const [shape, referrers] = await Promise.all([
      isIndex(fetched.manifest)
        ? describeIndex(client, registry, repository, fetched).then((index) => ({ ...index, config: null, totalSize: null, layers: [], cider: null, platform: null, configNote: null }))
        : describeManifest(client, registry, repository, fetched).then((manifest) => ({ ...manifest, platforms: [], morePlatforms: 0 })),
      referrersOf(client, registry, repository, fetched.descriptor.digest),
    ]);
    return { fetched, shape, referrers };
  });
  const { fetched, shape, referrers } = described;
  const digest = fetched.descriptor.digest;
  const related: string[] = [digest, ...shape.platforms.map((p) => p.digest)];
  const tag = byDigest ? null : input.reference;
  const [held, pins] = await Promise.all([
    deps.db.nodeImage.findMany({ where: { digest: { in: related } }, include: { node: true }, orderBy: { node: { name: 'asc' } } }),
    deps.db.pin.findMany({
      where: { OR: [{ digest: { in: related } }, ...(tag ? [{ registryId: registry.id, repository, tag }] : [])] },
      include: { project: { select: { id: true, name: true } } },
      orderBy: { reference: 'asc' },
    }),
  ]);
  return {
    registry: registrySummary(registry),
    repository,
    tag,
    reference: `${registry.host}/${repository}${tag ? `:${tag}` : `@${digest}`}`,
    digest,
    mediaType: fetched.descriptor.mediaType,
    artifactType: fetched.manifest.artifactType ?? null,
    manifestSize: fetched.bytes.length,
    annotations: annotationsOf(fetched.manifest.annotations),
    allAnnotations: fetched.manifest.annotations ?? {},
    subject: fetched.manifest.subject?.digest ?? null,
    ...shape,
    heldBy: held.map((h) => ({
      nodeId: h.nodeId,
      nodeName: h.node.name,
      nodeStatus: nodeStatus(h.node),
      digest: h.digest,
      size: Number(h.size),
      verifiedAt: h.verifiedAt,
      lastUsedAt: h.lastUsedAt,
    })),
    pins: pins.map((p) => ({ id: p.id, projectId: p.project.id, projectName: p.project.name, reference: p.reference, mode: p.mode, digest: p.digest, usesThis: related.includes(p.digest) })),
    // Signatures, SBOMs, release notes: manifests whose subject is this digest.
    ...referrers,
  };
}
