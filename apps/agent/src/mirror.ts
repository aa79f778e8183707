// A sync job's registry mirror (the dispatch's `mirror`): the site's pull-through cache of the
// image's registry, read first for the same repository, with the registry itself behind it. Any
// failure of the mirror (unreachable, 404, 5xx, refused credentials, a body cut short, content that
// does not verify) drops it for the rest of the job and the registry takes over; nothing the mirror
// sends is trusted, as pull() checks every manifest and blob against its digest whoever sent it.
// With peers, the mirror stands where the registry would as the swarm's source of pieces.
import {
  DigestMismatchError,
  InsufficientSpaceError,
  RegistryClient,
  sha256,
  StaticCredentials,
  type BlobBody,
  type BlobRange,
  type BlobRead,
  type BlobSource,
  type Digest,
  type ManifestContent,
  type ManifestSource,
  type PullSource,
  type PullSourceResolver,
  type Reference,
  type RegistryClientOptions,
} from '@cider/oci';
import { mirrorGrantContext, type BytesBySource, type NodeKeyPair, type RegistryAccess } from '@cider/protocol';
import type { Logger } from 'pino';
import { openGrant } from './job-grants.ts';

type Repository = ManifestSource & BlobSource;

/** The mirror's requests are retried little: the registry is right behind it. */
const mirrorRetry = { retries: 1, baseDelayMs: 100, maxDelayMs: 500 };
/** Nor does a stalled mirror get the registry's patience. */
const maxMirrorStallMs = 15_000;

export class JobMirror {
  private readonly client: RegistryClient | undefined;
  private dropped = false;
  /** Blob bytes read from the mirror. */
  private fed = 0;

  constructor(
    private readonly options: {
      jobId: string;
      access: RegistryAccess;
      keys: NodeKeyPair;
      registryClientOptions?: Partial<RegistryClientOptions>;
      log: Logger;
    },
  ) {
    const { access } = options;
    try {
      const credential = openGrant(options.keys, options.jobId, access, mirrorGrantContext(options.jobId));
      this.client = new RegistryClient({
        ...options.registryClientOptions,
        credentials: new StaticCredentials(credential ? { [access.host]: credential } : {}),
        plainHttp: access.plainHttp ? [access.host] : false,
        retry: mirrorRetry,
        stallTimeoutMs: Math.min(options.registryClientOptions?.stallTimeoutMs ?? maxMirrorStallMs, maxMirrorStallMs),
      });
    } catch (error) {
      this.drop(error);
    }
  }

  get host(): string {
    return this.options.access.host;
  }

  /** False once the mirror failed this job: the registry serves the rest. */
  get usable(): boolean {
    return !this.dropped && this.client !== undefined;
  }

  get bytes(): number {
    return this.fed;
  }

  drop(error: unknown): void {
    if (this.dropped) return;
    this.dropped = true;
    const message = error instanceof Error ? error.message : String(error);
    this.options.log.warn({ mirror: this.host }, `registry mirror failed; pulling from the registry instead: ${message}`);
  }

  /**
   * Runs a pull through the mirror, with the registry behind it; when the pull fails while the mirror
   * was still in use (it served something that did not verify, say), runs it once more from the
   * registry alone.
   */
  async pull<T>(origin: PullSourceResolver, reference: Reference, signal: AbortSignal, run: (from: { source: PullSource } | { client: PullSourceResolver }) => Promise<T>): Promise<T> {
    if (!this.usable) return run({ client: origin });
    const mirrored = new MirroredRepository(this.client!.repositoryOf({ ...reference, registry: this.host }), origin.repositoryOf(reference), this, signal);
    try {
      return await run({ source: mirrored });
    } catch (error) {
      if (signal.aborted || error instanceof InsufficientSpaceError || !this.usable) throw error;
      this.drop(error);
      // sync.done reports the attempt that completes (its bytesFetched starts again from 0): what
      // the mirror fed the failed one was thrown away or is already in the cache.
      this.fed = 0;
      return run({ client: origin });
    }
  }

  /** Bytes by source for sync.done when the job has no peers. */
  sources(bytesFetched: number): BytesBySource {
    const mirror = Math.min(this.fed, bytesFetched);
    return { registry: bytesFetched - mirror, mirror, peers: {} };
  }

  /** @internal */
  count(bytes: number): void {
    this.fed += bytes;
  }

  close(): Promise<void> {
    return this.client?.close() ?? Promise.resolve();
  }
}

/** The mirror's repository while it works, the registry's once it has failed. */
class MirroredRepository implements ManifestSource, BlobSource {
  constructor(
    private readonly mirror: Repository,
    private readonly origin: Repository,
    private readonly state: JobMirror,
    private readonly signal: AbortSignal,
  ) {}

  private async first<T>(fromMirror: () => Promise<T>, fromOrigin: () => Promise<T>, aborted?: AbortSignal): Promise<T> {
    if (this.state.usable) {
      try {
        return await fromMirror();
      } catch (error) {
        if (this.signal.aborted || aborted?.aborted) throw error;
        this.state.drop(error);
      }
    }
    return fromOrigin();
  }

  fetchManifest(reference: string): Promise<ManifestContent> {
    return this.first(
      async () => {
        const content = await this.mirror.fetchManifest(reference);
        // Checked here too, so that a mirror's wrong manifest sends us to the registry rather than failing the pull.
        const actual = sha256(content.bytes);
        if (reference.includes(':') && actual !== reference) throw new DigestMismatchError(reference, actual, `manifest ${reference} from the mirror`);
        return content;
      },
      () => this.origin.fetchManifest(reference),
    );
  }

  blobExists(digest: Digest): Promise<{ size: number } | undefined> {
    return this.first(
      async () => {
        const found = await this.mirror.blobExists(digest);
        if (!found) throw new Error(`the mirror does not have ${digest}`);
        return found;
      },
      () => this.origin.blobExists(digest),
    );
  }

  fetchBlob(digest: Digest, range?: BlobRange): Promise<BlobRead> {
    return this.first(
      async () => {
        const read = await this.mirror.fetchBlob(digest, range);
        return { ...read, body: this.counted(read.body, range?.signal) };
      },
      () => this.origin.fetchBlob(digest, range),
      range?.signal,
    );
  }

  /** Counts the mirror's bytes as they are read; a body that breaks off drops the mirror (the retry resumes from the registry). */
  private counted(body: BlobBody, signal: AbortSignal | undefined): BlobBody {
    const state = this.state;
    const failed = (error: unknown) => {
      if (!this.signal.aborted && !signal?.aborted) state.drop(error);
    };
    return {
      async *[Symbol.asyncIterator]() {
        try {
          for await (const chunk of body) {
            state.count(chunk.length);
            yield chunk;
          }
        } catch (error) {
          failed(error);
          throw error;
        }
      },
      async consume(onChunk) {
        let readerFailed = false;
        try {
          await body.consume(async (chunk) => {
            state.count(chunk.length);
            try {
              await onChunk(chunk);
            } catch (error) {
              readerFailed = true;
              throw error;
            }
          });
        } catch (error) {
          // An error of the reader's own (a full disk, an abort) says nothing about the mirror.
          if (!readerFailed) failed(error);
          throw error;
        }
      },
      destroy: () => body.destroy(),
    };
  }
}

/** Runs a pull through the job's mirror when it has one, else from the registry. */
export function pullThrough<T>(
  mirror: JobMirror | undefined,
  origin: PullSourceResolver,
  reference: Reference,
  signal: AbortSignal,
  run: (from: { source: PullSource } | { client: PullSourceResolver }) => Promise<T>,
): Promise<T> {
  return mirror ? mirror.pull(origin, reference, signal, run) : run({ client: origin });
}
