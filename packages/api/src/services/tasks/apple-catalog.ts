// Apple's restore-image catalog as the dashboard lists it: fetched server-side (the browser never
// talks to Apple), cached a few minutes per URL, with concurrent askers sharing one fetch
// (sharedRead; a failed fetch is not kept). The fetch itself (body cap, timeout, parsing) is
// @cider/oci's, behind ServerTaskRunners.
import type { RestoreImage } from '@cider/oci';
import { AppError } from '../../errors.ts';
import type { ServiceDeps } from '../deps.ts';
import { sharedRead } from '../shared-read.ts';
import { taskConfigOf } from './config.ts';

const ttlMs = 5 * 60_000;
const fetchTimeoutMs = 30_000;
const sizeTimeoutMs = 15_000;
/** The dialog lists this many at most (Apple's catalog has a few dozen). */
export const maxCatalogImages = 200;

export async function appleCatalog(deps: ServiceDeps): Promise<{ url: string; images: RestoreImage[] }> {
  const { appleCatalogUrl: url, runners } = taskConfigOf(deps);
  const images = await sharedRead(deps, `apple-catalog ${url}`, ttlMs, () =>
    runners
      .fetchAppleCatalog(url, AbortSignal.timeout(fetchTimeoutMs))
      .then((list) => list.slice(0, maxCatalogImages))
      .catch((error: unknown) => {
        throw new AppError('REGISTRY_UNREACHABLE', `Could not read the restore-image catalog at ${url}: ${(error as Error).message}`, { cause: error });
      }),
  );
  return { url, images };
}

/**
 * How big the catalog's image for `build` is, asked of its URL (the catalog gives no sizes) and
 * cached like the catalog. A URL that does not answer is not an error here: the dialog says why,
 * and the next asker tries again.
 */
export async function appleImageSize(deps: ServiceDeps, build: string): Promise<{ build: string; size: number | null; error: string | null }> {
  const image = await catalogImage(deps, build);
  try {
    const size = await sharedRead(deps, `apple-image-size ${image.url}`, ttlMs, () => taskConfigOf(deps).runners.restoreImageSize(image.url, AbortSignal.timeout(sizeTimeoutMs)));
    return { build, size, error: null };
  } catch (error) {
    return { build, size: null, error: (error as Error).message };
  }
}

/** The catalog's entry for a build, or a NOT_FOUND that says the catalog no longer offers it. */
export async function catalogImage(deps: ServiceDeps, build: string): Promise<RestoreImage> {
  const { images, url } = await appleCatalog(deps);
  const image = images.find((i) => i.build === build);
  if (!image) throw new AppError('NOT_FOUND', `The catalog at ${url} does not offer build ${build} (any more); reload the list.`);
  return image;
}
