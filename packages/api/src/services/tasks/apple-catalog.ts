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
  sizes.clear();
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

const sizes = new Map<string, { at: number; size: Promise<{ size: number | null; error: string | null }> }>();
const sizeTimeoutMs = 15_000;
/** Sizes remembered at most (entries past their ttl are dropped first). */
const maxSizes = 500;

/**
 * How big the catalog's image for `build` is, asked of its URL (the catalog gives no sizes) and
 * cached like the catalog. A URL that does not answer is not an error here: the dialog says why.
 */
export async function appleImageSize(deps: ServiceDeps, build: string, now = Date.now()): Promise<{ build: string; size: number | null; error: string | null }> {
  const image = await catalogImage(deps, build);
  const hit = sizes.get(image.url);
  if (hit && now - hit.at < ttlMs) return { build, ...(await hit.size) };
  if (sizes.size >= maxSizes) {
    for (const [url, entry] of sizes) if (now - entry.at >= ttlMs || sizes.size >= maxSizes) sizes.delete(url);
  }
  const size = taskConfigOf(deps)
    .runners.restoreImageSize(image.url, AbortSignal.timeout(sizeTimeoutMs))
    .then((bytes) => ({ size: bytes, error: null }))
    .catch((error: unknown) => {
      sizes.delete(image.url);
      return { size: null, error: (error as Error).message };
    });
  sizes.set(image.url, { at: now, size });
  return { build, ...(await size) };
}

/** The catalog's entry for a build, or a NOT_FOUND that says the catalog no longer offers it. */
export async function catalogImage(deps: ServiceDeps, build: string): Promise<RestoreImage> {
  const { images, url } = await appleCatalog(deps);
  const image = images.find((i) => i.build === build);
  if (!image) throw new AppError('NOT_FOUND', `The catalog at ${url} does not offer build ${build} (any more); reload the list.`);
  return image;
}
