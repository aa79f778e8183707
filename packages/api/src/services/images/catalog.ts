// Repositories from each registry's catalog (listed by @cider/oci's listCatalog), with the pins
// on each from our own database; a registry that does not offer its catalog says why.
import type { Registry } from '@cider/db';
import { isOciError, RegistryError } from '@cider/oci';
import type { ServiceDeps } from '../deps.ts';
import { fromOciError } from '../registries/registries.ts';
import { browseClient, cacheKey, listTtlMs, loadRegistry, registrySummary, remember } from './browse.ts';

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

export async function catalogOf(deps: ServiceDeps, registry: Registry): Promise<Catalog> {
  return remember(cacheKey(registry, 'catalog'), listTtlMs, async () => {
    const client = browseClient(deps, registry);
    try {
      const { repositories, truncated } = await client.listCatalog(registry.host);
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
