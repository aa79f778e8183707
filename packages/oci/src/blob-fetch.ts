// Fetching one blob into the cache: stream through the verifying ingest, resume with Range after
// a dropped connection (or a killed process), restart cleanly when a server ignores Range.
import type { HostCache } from './cache/cache.ts';
import { backoffDelay, sleep } from './http/backoff.ts';
import { isTransientNetworkError } from './http/transport.ts';
import { isOciError } from './errors.ts';
import type { Descriptor } from './manifest.ts';
import type { Repository } from './registry/repository.ts';

export interface BlobFetchOptions {
  signal?: AbortSignal;
  /**
   * Progress: `delta` bytes now count as done; `fetched` says whether they came over the
   * network (false for a resumed prefix already on disk). A negative delta undoes progress
   * when a server ignored Range and the download restarted.
   */
  onBytes?: (delta: number, fetched: boolean) => void;
  /** Attempts without progress before giving up. */
  retries?: number;
  onWait?: (holder: string) => void;
}

function retryable(error: unknown): boolean {
  return isTransientNetworkError(error) || isOciError(error, 'UNREACHABLE') || isOciError(error, 'STALLED');
}

export async function fetchBlobToCache(repo: Repository, cache: HostCache, descriptor: Descriptor, options: BlobFetchOptions = {}): Promise<void> {
  const onBytes = options.onBytes ?? (() => {});
  const retries = options.retries ?? 8;
  const ingest = await cache.openIngest(descriptor.digest, descriptor.size, { signal: options.signal, onWait: options.onWait });
  if (ingest === 'exists') {
    onBytes(descriptor.size, false);
    return;
  }
  try {
    if (ingest.offset > 0) onBytes(ingest.offset, false);
    let attemptsWithoutProgress = 0;
    for (;;) {
      const before = ingest.offset;
      try {
        if (ingest.offset < descriptor.size) {
          const response = await repo.fetchBlob(descriptor.digest, { offset: ingest.offset, signal: options.signal });
          if (response.status === 200 && ingest.offset > 0) {
            // The server ignored Range: take the whole blob from the start.
            onBytes(-ingest.offset, false);
            await ingest.reset();
          }
          for await (const chunk of response.body) {
            await ingest.write(chunk as Buffer);
            onBytes((chunk as Buffer).length, true);
          }
        }
        await ingest.commit();
        return;
      } catch (error) {
        if (options.signal?.aborted || !retryable(error)) throw error;
        if (ingest.offset > before) attemptsWithoutProgress = 0;
        if (attemptsWithoutProgress >= retries) throw error;
        await sleep(backoffDelay(attemptsWithoutProgress++, 250, 10_000), options.signal);
      }
    }
  } catch (error) {
    await ingest.close();
    throw error;
  }
}
