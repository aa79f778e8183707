// One tag or digest of a repository laid out for people: digest, media and artifact type, sizes,
// annotations, layers, Cider's config fields or an index's platforms, its referrers (signatures,
// SBOMs, release notes) and the pins using it; the nodes holding it are paged in holders.ts.
import type { Registry } from '@cider/db';
import {
  Annotation,
  CiderMediaType,
  isIndex,
  isIndexMediaType,
  listReferrers,
  manifestContentSize,
  MediaType,
  type Descriptor,
  type Digest,
  type FetchedManifest,
  type ImageManifest,
  type RegistryClient,
} from '@cider/oci';
import pMap from 'p-map';
import type { ServiceDeps } from '../deps.ts';
import { cacheKey, checkRepository, forever, loadRegistry, maxCachedBytes, registrySummary, remember, withClient } from './browse.ts';
import { fetchConfigJson, isJsonMediaType, maxConfigBytes, parseCiderConfig, readText, type CiderConfig } from './cider-config.ts';

const maxPlatforms = 32;
/** Referrers are attached after the image (signatures, SBOMs, release notes): keep the list only briefly. */
const referrersTtlMs = 5_000;
/** Referrers shown on an image's page; the rest are counted. */
export const maxReferrers = 100;

export async function manifestByDigest(client: RegistryClient, registry: Registry, repository: string, digest: Digest): Promise<FetchedManifest> {
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
        platform = { os: readText(c.os), architecture: readText(c.architecture) };
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
  const platforms = await pMap(children.slice(0, maxPlatforms), async (child) => {
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
  }, { concurrency: 6 });
  return { kind: 'index' as const, platforms, morePlatforms: Math.max(0, children.length - maxPlatforms) };
}

/**
 * One tag or digest of a repository: what it is (digest, media and artifact type, sizes,
 * annotations, layers, Cider's config fields or an index's platforms) and which pins use it.
 * A tag is resolved on every call (tags move); content by digest is cached.
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
  const pins = await deps.db.pin.findMany({
    where: { OR: [{ digest: { in: related } }, ...(tag ? [{ registryId: registry.id, repository, tag }] : [])] },
    include: { project: { select: { id: true, name: true } } },
    orderBy: { reference: 'asc' },
  });
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
    pins: pins.map((p) => ({ id: p.id, projectId: p.project.id, projectName: p.project.name, reference: p.reference, mode: p.mode, digest: p.digest, usesThis: related.includes(p.digest) })),
    // Signatures, SBOMs, release notes: manifests whose subject is this digest.
    ...referrers,
  };
}
