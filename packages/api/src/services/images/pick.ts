// Choosing an image instead of typing its reference: a registry's repositories and a repository's
// tags, filtered by what the person typed and cut to a short list, each tag with the facts that
// tell builds apart (macOS version, build, when it was made) and how many nodes already hold it.
// Shares the browse cache with the image pages, so picking costs the registry little.
import type { Registry } from '@cider/db';
import { Annotation, CiderMediaType, isIndex, isReferrersTag, type Digest, type RegistryClient } from '@cider/oci';
import pMap from 'p-map';
import type { ServiceDeps } from '../deps.ts';
import { cacheKey, checkRepository, listTtlMs, loadRegistry, registrySummary, remember, withClient } from './browse.ts';
import { catalogOf } from './catalog.ts';
import { fetchConfigJson, parseCiderConfig } from './cider-config.ts';
import { manifestByDigest } from './detail.ts';

/** Choices returned at once; the rest are counted and found by searching. */
export const pickLimit = 30;
/** Tags whose facts are read (a manifest and a small config each, cached by digest). */
export const pickTagFacts = 12;

const byVersionDescending = new Intl.Collator('en', { numeric: true }).compare;

function matches(search: string | undefined) {
  const needle = search?.trim().toLowerCase() ?? '';
  return (name: string) => needle === '' || name.toLowerCase().includes(needle);
}

/** A registry's repositories whose name contains `search`, the first `pickLimit` of them. */
export async function pickRepositories(deps: ServiceDeps, input: { registryId: string; search?: string }) {
  const registry = await loadRegistry(deps, input.registryId);
  const catalog = await catalogOf(deps, registry);
  if (!catalog.available) return { registry: registrySummary(registry), available: false as const, reason: catalog.reason, repositories: [], matching: 0 };
  const found = catalog.repositories.filter(matches(input.search));
  return { registry: registrySummary(registry), available: true as const, reason: null, repositories: found.slice(0, pickLimit), matching: found.length };
}

interface TagFacts {
  version: string | null;
  build: string | null;
  created: string | null;
}

const noFacts: TagFacts = { version: null, build: null, created: null };

/** Version, build and date from a Cider config, else from the manifest's annotations. */
async function factsOf(client: RegistryClient, registry: Registry, repository: string, digest: Digest): Promise<TagFacts> {
  const fetched = await manifestByDigest(client, registry, repository, digest);
  const annotations = fetched.manifest.annotations ?? {};
  const fromAnnotations = { version: annotations[Annotation.version] ?? null, build: null, created: annotations[Annotation.created] ?? null };
  if (isIndex(fetched.manifest) || fetched.manifest.config.mediaType !== CiderMediaType.config) return fromAnnotations;
  const cider = parseCiderConfig(await fetchConfigJson(client, registry, repository, fetched.manifest.config), fetched.manifest.layers, annotations);
  return { version: cider.version ?? fromAnnotations.version, build: cider.build, created: cider.created ?? fromAnnotations.created };
}

/**
 * Version, build and date of the images behind `digests` (the REST API's tag pages), read from the
 * registry a few at a time and cached by digest; an image that can't be read has none.
 */
export async function factsOfDigests(deps: ServiceDeps, input: { registryId: string; repository: string; digests: readonly string[] }): Promise<Map<string, TagFacts>> {
  const registry = await loadRegistry(deps, input.registryId);
  const repository = checkRepository(registry, input.repository);
  const unique = [...new Set(input.digests)];
  if (unique.length === 0) return new Map();
  return withClient(deps, registry, `Reading the images of ${repository}`, async (client) => {
    const facts = await pMap(unique, (digest) => factsOf(client, registry, repository, digest as Digest).catch(() => noFacts), { concurrency: 6 });
    return new Map(unique.map((digest, i) => [digest, facts[i]!]));
  });
}

/** A repository's tags containing `search`, newest-looking first; the first ones with their facts. */
export async function pickTags(deps: ServiceDeps, input: { registryId: string; repository: string; search?: string }) {
  const registry = await loadRegistry(deps, input.registryId);
  const repository = checkRepository(registry, input.repository);
  const { found, described } = await withClient(deps, registry, `Listing the tags of ${repository}`, async (client) => {
    const repo = client.repository(registry.host, repository);
    const all = await remember(cacheKey(registry, 'tags', repository), listTtlMs, () => repo.listTags({ pageSize: 1000 }));
    const found = all.filter((tag) => !isReferrersTag(tag) && matches(input.search)(tag)).sort((a, b) => byVersionDescending(b, a));
    const described = await pMap(
      found.slice(0, pickLimit),
      async (name, i) => {
        if (i >= pickTagFacts) return { name, digest: null, ...noFacts };
        try {
          const descriptor = await remember(cacheKey(registry, 'tag', repository, name), listTtlMs, () => repo.resolve(name));
          return { name, digest: descriptor.digest as string | null, ...(await factsOf(client, registry, repository, descriptor.digest)) };
        } catch {
          // A tag that can't be read is still offered; pinning it says why.
          return { name, digest: null, ...noFacts };
        }
      },
      { concurrency: 6 },
    );
    return { found, described };
  });
  const digests = described.flatMap((t) => (t.digest ? [t.digest] : []));
  const held = await deps.db.nodeImage.groupBy({ by: ['digest'], where: { digest: { in: digests } }, _count: { nodeId: true } });
  const nodes = new Map(held.map((h) => [h.digest, h._count.nodeId]));
  return {
    registry: registrySummary(registry),
    repository,
    /** The reference without its tag: `<host>/<repository>`. */
    reference: `${registry.host}/${repository}`,
    tags: described.map((t) => ({ ...t, nodes: t.digest ? (nodes.get(t.digest) ?? 0) : 0 })),
    matching: found.length,
  };
}
