// Apple's restore-image catalog as the dashboard lists it: fetched server-side (the browser never
// talks to Apple), cached a few minutes per URL, with concurrent askers sharing one fetch. The
// fetch itself (body cap, timeout, parsing) is @cider/oci's, behind ServerTaskRunners.
import type { RestoreImage } from '@cider/oci';
import { AppError } from '../../errors.ts';
import type { ServiceDeps } from '../deps.ts';
import { taskConfigOf } from './config.ts';

const ttlMs = 5 * 60_000;
const fetchTimeoutMs = 30_000;
/** The dialog lists this many at most (Apple's catalog has a few dozen). */
export const maxCatalogImages = 200;

const cache = new Map<string, { at: number; images: Promise<RestoreImage[]> }>();

/** Forgets cached catalogs (tests). */
export function clearAppleCatalogCache(): void {
  cache.clear();
}

export async function appleCatalog(deps: ServiceDeps, now = Date.now()): Promise<{ url: string; images: RestoreImage[] }> {
  const config = taskConfigOf(deps);
  const url = config.appleCatalogUrl;
  const hit = cache.get(url);
  if (hit && now - hit.at < ttlMs) return { url, images: await hit.images };
  const images = config.runners
    .fetchAppleCatalog(url, AbortSignal.timeout(fetchTimeoutMs))
    .then((list) => list.slice(0, maxCatalogImages))
    .catch((error: unknown) => {
      cache.delete(url);
      throw new AppError('REGISTRY_UNREACHABLE', `Could not read the restore-image catalog at ${url}: ${(error as Error).message}`, { cause: error });
    });
  cache.set(url, { at: now, images });
  return { url, images: await images };
}

/** The catalog's entry for a build, or a NOT_FOUND that says the catalog no longer offers it. */
export async function catalogImage(deps: ServiceDeps, build: string): Promise<RestoreImage> {
  const { images, url } = await appleCatalog(deps);
  const image = images.find((i) => i.build === build);
  if (!image) throw new AppError('NOT_FOUND', `The catalog at ${url} does not offer build ${build} (any more); reload the list.`);
  return image;
}
