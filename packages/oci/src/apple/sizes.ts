// How big each restore image is. Apple's catalog gives no sizes, so each is learned the way
// urlSource pins a file: one ranged request for its first byte (Content-Range carries the total).
// Bounded in every direction: a few requests at a time, at most `maxSizedImages` images, few
// retries, and one deadline for the whole listing.
import { urlSource, type UrlSourceOptions } from '../bytes/url-source.ts';
import type { RestoreImage } from './types.ts';

/** Images past this many are left unsized (Apple's catalog lists under a hundred builds). */
export const maxSizedImages = 200;

export interface RestoreImageSize {
  /** Bytes, when the URL answered with its size. */
  size?: number;
  /** Why there is no size, in words (the URL's error, or that the listing was cut short). */
  error?: string;
}

export interface RestoreImageSizeOptions {
  /** Requests at a time (default 4). */
  concurrency?: number;
  /** The whole listing (default 60 s); images not sized by then say so. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Passed to urlSource (e.g. `ca`, `guardAddresses`); attempts default to 2 here, not 6. */
  source?: UrlSourceOptions;
}

/** One image's size: one small ranged request, and few retries (a listing must not wait on one URL). */
export async function restoreImageSize(url: string, options: UrlSourceOptions = {}): Promise<number> {
  const source = await urlSource(url, { attempts: 2, idleTimeoutMs: 15_000, retryBaseMs: 200, retryMaxMs: 1_000, ...options });
  await source.close().catch(() => undefined);
  return source.size;
}

/** One entry per image, in order: its size, or why it has none. Never throws for one bad URL. */
export async function restoreImageSizes(images: readonly RestoreImage[], options: RestoreImageSizeOptions = {}): Promise<RestoreImageSize[]> {
  const deadline = AbortSignal.timeout(options.timeoutMs ?? 60_000);
  const signal = options.signal ? AbortSignal.any([options.signal, deadline]) : deadline;
  const results: RestoreImageSize[] = images.map((_, i) => (i < maxSizedImages ? { error: 'not sized: the listing ran out of time' } : { error: `not sized: only the first ${maxSizedImages} images are` }));
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= Math.min(images.length, maxSizedImages) || signal.aborted) return;
      try {
        results[i] = { size: await restoreImageSize(images[i]!.url, { ...options.source, signal }) };
      } catch (error) {
        if (signal.aborted) return;
        results[i] = { error: error instanceof Error ? error.message : String(error) };
      }
    }
  };
  const concurrency = Math.max(1, Math.min(options.concurrency ?? 4, 16));
  await Promise.all(Array.from({ length: concurrency }, worker));
  options.signal?.throwIfAborted();
  return results;
}
