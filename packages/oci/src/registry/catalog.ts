// The repository catalog: `GET /v2/_catalog` (distribution's catalog extension; the OCI
// distribution spec leaves listing repositories out, so many hosted registries refuse it).
import type { RegistryTransport } from '../http/transport.ts';
import type { CatalogOptions, CatalogPage } from '../source.ts';
import { paginate, readJsonPage } from './paginate.ts';

/** Repository names are at most this long in practice (distribution limits the whole reference to 255). */
const maxRepositoryNameLength = 255;

/**
 * Repository names, following pagination: the Link header, else `n` and `last`. Bounded by
 * paginate(): a page cap, a Link loop or a Link to another origin is an error; a page adding
 * nothing new ends it, so registries that ignore `n` or `last` cannot loop either.
 */
export async function listCatalog(transport: RegistryTransport, options: CatalogOptions = {}): Promise<CatalogPage> {
  const pageSize = options.pageSize ?? 100;
  const what = 'the repository catalog (GET /v2/_catalog)';
  const listed = await paginate<string>({
    transport,
    first: `/v2/_catalog?n=${pageSize}`,
    scopes: ['registry:catalog:*'],
    what,
    readPage: async (response) => {
      const page = await readJsonPage(response, transport.registry, what);
      return Array.isArray(page.repositories) ? page.repositories.filter((n): n is string => typeof n === 'string' && n.length > 0 && n.length <= maxRepositoryNameLength) : [];
    },
    nextWithoutLink: (names) => (names.length >= pageSize ? `/v2/_catalog?n=${pageSize}&last=${encodeURIComponent(names.at(-1)!)}` : undefined),
    maxItems: options.limit ?? 10_000,
  });
  return { repositories: listed.items, truncated: listed.truncated };
}
