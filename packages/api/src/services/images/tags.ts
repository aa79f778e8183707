// A repository's tags, newest-looking first, with their digests and who pins or holds them.
import { isReferrersTag } from '@cider/oci';
import pMap from 'p-map';
import type { ServiceDeps } from '../deps.ts';
import { cacheKey, checkRepository, listTtlMs, loadRegistry, registrySummary, remember, withClient } from './browse.ts';

/** Tags whose digest is looked up for the tags table (HEAD each); the rest show on their own page. */
export const maxResolvedTags = 100;

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
    const resolved = await pMap(tags.slice(0, maxResolvedTags), (tag) => remember(cacheKey(registry, 'tag', repository, tag), listTtlMs, () => repo.resolve(tag)).catch(() => undefined), {
      concurrency: 8,
    });
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
