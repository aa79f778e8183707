// Fetching one blob into the cache. Large blobs are cut into segments fetched over several
// connections with HTTP Range (registries and CDNs cap each connection's speed; the sum is not
// capped), written in place into the ingest file, and hashed in order behind the written
// frontier on a worker thread. Every segment's progress is journaled, so a dropped connection
// or a killed process resumes where it stopped. A server that ignores Range (200 instead of
// 206) gets one plain stream from the start instead.
import type { HostCache } from './cache/cache.ts';
import { createFileHasher, type BadPiece, type FileHasher, type PieceDigests } from './cache/file-hasher.ts';
import type { Ingest } from './cache/ingest.ts';
import type { Digest } from './digest.ts';
import { DigestMismatchError, isOciError, OciError } from './errors.ts';
import { noteBytesWritten } from './memory.ts';
import { backoffDelay, sleep } from './http/backoff.ts';
import { describeNetworkError, errorCode, isTransientNetworkError } from './http/transport.ts';
import type { Descriptor } from './manifest.ts';
import type { BodyTarget } from './http/http-client.ts';
import { readsInto, type BlobSource } from './source.ts';
import { RangeNotHonoured, SwarmDownload, type PeerLink, type SwarmOptions } from './swarm.ts';

export interface BlobFetchOptions {
  signal?: AbortSignal;
  /**
   * Progress: `delta` bytes now count as done; `fetched` says whether they came over the
   * network (false for a resumed part already on disk). A negative delta undoes progress when
   * a download had to restart.
   */
  onBytes?: (delta: number, fetched: boolean) => void;
  /** Attempts in a row without progress before giving up. */
  retries?: number;
  onWait?: (holder: string) => void;
  /**
   * Parallel connections for one large blob. Default 6: enough to be 6x faster than one stream
   * where each connection is capped, and measured to keep peak memory near 110 MB on a 4 GiB
   * pull (8 connections: 143 MB, for no gain on a fast local registry).
   */
  connections?: number;
  /** Segment size; by default about 1/64 of the blob, between 8 and 64 MiB. */
  segmentSize?: number;
  /**
   * How often the segment journal is saved while downloading (also at every segment's end). Default
   * 0.25 s: a kill loses what was written since the last save (a small atomic rename each time).
   */
  journalIntervalMs?: number;
  /**
   * sha256 of each piece of the blob (from a Cider config): every piece is checked as the
   * in-order hash reaches it, and a bad one is fetched again alone instead of the whole blob.
   */
  pieces?: PieceDigests;
  /**
   * Peers to take the blob from as well as `source` (issue 10, ./swarm.ts). With piece digests
   * the blob is fetched piece by piece from both at once; without, a peer that holds all of it
   * is tried whole (checked by the blob's digest) before the registry.
   */
  swarm?: SwarmOptions;
}

/** Times one piece may come back wrong before the download gives up. */
const pieceAttempts = 3;

const MiB = 1024 * 1024;
export const defaultConnections = 6;
/** Blobs below this size are one segment (one request): parallelism would not pay. */
const parallelThreshold = 32 * MiB;
/** Writes are gathered per connection up to this size (two such buffers): fewer syscalls, bounded memory. */
const writeBatch = 512 * 1024;

export function chooseSegmentSize(size: number, pieceSize?: number): number {
  if (size < parallelThreshold) return Math.max(size, 1);
  const chosen = Math.min(64 * MiB, Math.max(8 * MiB, Math.ceil(size / 64 / MiB) * MiB));
  if (!pieceSize) return chosen;
  // Segments nest in pieces, so a bad piece is a run of whole, finished segments to fetch again.
  let segment = pieceSize;
  while (segment > chosen && segment % 2 === 0 && segment / 2 >= MiB) segment /= 2;
  return segment;
}

function retryable(error: unknown): boolean {
  return isTransientNetworkError(error) || isOciError(error, 'UNREACHABLE') || isOciError(error, 'STALLED');
}

/** A Range request was answered with the whole blob: switch to one plain stream. Caught in worker(); never escapes. */
class RangeIgnored extends Error {}

/**
 * What a failed download throws: OciErrors and the caller's abort reason as they are; a network
 * failure that outlasted the retries (a reset, a stall, a body cut short) as a retryable OciError;
 * anything else (the disk: ENOSPC is turned into InsufficientSpaceError by pull) unchanged.
 */
function transferFailure(error: unknown, digest: string, signal: AbortSignal | undefined): unknown {
  if (error instanceof OciError || (signal?.aborted && error === signal.reason)) return error;
  if (!isTransientNetworkError(error)) return error;
  const code = errorCode(error) === 'ESTALLED' ? 'STALLED' : 'UNREACHABLE';
  return new OciError(code, `The download of blob ${digest} failed: ${describeNetworkError(error)}. A retry resumes it.`, { cause: error, retryable: true });
}

/** Fetches a blob from `source` into the cache; only ranged reads of it are used (./source.ts). */
export async function fetchBlobToCache(source: BlobSource, cache: HostCache, descriptor: Descriptor, options: BlobFetchOptions = {}): Promise<void> {
  const onBytes = options.onBytes ?? (() => {});
  let ingest = await cache.openIngest(descriptor.digest, descriptor.size, { signal: options.signal, onWait: options.onWait });
  if (ingest === 'exists') {
    onBytes(descriptor.size, false);
    return;
  }
  const swarm = options.swarm;
  if (swarm && SwarmDownload.fits(descriptor.size, options.pieces)) {
    // Progress reported by the swarm, taken back if it has to give way to a plain download.
    let reported = 0;
    const download = new SwarmDownload({
      registry: source,
      cache,
      ingest,
      descriptor,
      pieces: options.pieces,
      swarm,
      signal: options.signal,
      retries: options.retries,
      journalIntervalMs: options.journalIntervalMs,
      onBytes: (delta, fetched) => {
        reported += delta;
        onBytes(delta, fetched);
      },
    });
    try {
      await download.run();
      return;
    } catch (error) {
      await ingest.close();
      if (!(error instanceof RangeNotHonoured)) throw transferFailure(error, descriptor.digest, options.signal);
    }
    // The registry ignores Range: pieces cannot be scheduled; one plain stream instead.
    onBytes(-reported, false);
    ingest = await cache.openIngest(descriptor.digest, descriptor.size, { signal: options.signal, onWait: options.onWait });
    if (ingest === 'exists') {
      onBytes(descriptor.size, false);
      return;
    }
  } else if (swarm) {
    const fromPeer = await wholeFromPeers(swarm, cache, ingest, descriptor, options, onBytes);
    if (fromPeer === 'done') return;
    ingest = fromPeer;
  }
  const download = new SegmentedDownload(source, ingest, descriptor, options, onBytes);
  try {
    await download.run();
  } catch (error) {
    await download.stop();
    await ingest.close();
    throw transferFailure(error, descriptor.digest, options.signal);
  }
}

/**
 * A blob without piece digests: only a peer that holds all of it (verified in its cache) can
 * serve it, and it is checked by the blob's digest alone. A peer whose copy fails the check is
 * reported and the next one (then the registry) is tried. Returns the ingest to go on with.
 */
async function wholeFromPeers(swarm: SwarmOptions, cache: HostCache, ingest: Ingest, descriptor: Descriptor, options: BlobFetchOptions, onBytes: (delta: number, fetched: boolean) => void): Promise<Ingest | 'done'> {
  const tried = new Set<string>();
  for (let round = 0; round < 8; round++) {
    const peer = await firstHolder(swarm.peers().filter((p) => !tried.has(p.id)), descriptor.digest, options.signal);
    if (!peer) return ingest;
    tried.add(peer.id);
    let reported = 0;
    const count = (delta: number, fetched: boolean) => {
      reported += delta;
      onBytes(delta, fetched);
    };
    const source: BlobSource = { fetchBlob: (digest, range) => peer.fetchBlob(digest, range ?? {}), blobExists: () => Promise.resolve(undefined) };
    try {
      await new SegmentedDownload(source, ingest, descriptor, { ...options, retries: 2 }, count).run();
      swarm.onSourceBytes?.(peer, descriptor.size);
      return 'done';
    } catch (error) {
      if (options.signal?.aborted) {
        await ingest.close();
        throw options.signal.reason ?? error;
      }
      onBytes(-reported, false);
      // A digest mismatch discarded the data (commit does); anything else leaves a resumable journal.
      if (error instanceof DigestMismatchError) swarm.onBadPeer?.(peer, descriptor.digest, error.message);
      await ingest.close().catch(() => {});
      const reopened = await cache.openIngest(descriptor.digest, descriptor.size, { signal: options.signal, onWait: options.onWait });
      if (reopened === 'exists') {
        onBytes(descriptor.size, false);
        return 'done';
      }
      ingest = reopened;
    }
  }
  return ingest;
}

/** The first of `peers` that says it holds all of `digest` (asked one after another, 3 s each). */
async function firstHolder(peers: readonly PeerLink[], digest: Digest, signal: AbortSignal | undefined): Promise<PeerLink | undefined> {
  for (const peer of peers.slice(0, 8)) {
    const held = await peer.pieces(digest, AbortSignal.any([signal ?? new AbortController().signal, AbortSignal.timeout(3_000)])).catch(() => undefined);
    if (held === 'all') return peer;
  }
  return undefined;
}

class SegmentedDownload {
  private hasher: FileHasher | undefined;
  private readonly pending: number[] = [];
  private readonly controller = new AbortController();
  private failure: unknown;
  private attemptsWithoutProgress = 0;
  private rangeIgnored = false;
  private journalTimer: NodeJS.Timeout | undefined;
  private savingJournal: Promise<void> | undefined;
  private journalDirty = false;
  private journalClosed = false;
  private readonly size: number;
  private readonly badPieces = new Map<number, number>();

  constructor(
    private readonly source: BlobSource,
    private readonly ingest: Ingest,
    private readonly descriptor: Descriptor,
    private readonly options: BlobFetchOptions,
    private readonly onBytes: (delta: number, fetched: boolean) => void,
  ) {
    this.size = descriptor.size;
    options.signal?.addEventListener('abort', () => this.controller.abort(options.signal?.reason), { once: true });
  }

  async run(): Promise<void> {
    const pieces = this.options.pieces && this.options.pieces.size > 0 && this.options.pieces.size < this.size ? this.options.pieces : undefined;
    const plan = await this.ingest.prepare(this.options.segmentSize ?? chooseSegmentSize(this.size, pieces?.size));
    const resumed = this.ingest.bytesWritten;
    if (resumed > 0) this.onBytes(resumed, false);
    // A journal from an earlier run may cut segments across pieces: then only the whole digest is checked.
    const checkPieces = pieces && pieces.size % plan.segmentSize === 0 ? pieces : undefined;
    this.hasher = createFileHasher(this.ingest.dataPath, this.size, checkPieces, (bad) => this.badPiece(bad));
    this.hasher.advance(this.ingest.frontier);
    plan.done.forEach((done, index) => {
      if (done < this.ingest.segmentLength(index)) this.pending.push(index);
    });
    this.journalTimer = setInterval(() => void this.saveJournal(), this.options.journalIntervalMs ?? 250);
    try {
      // Pieces found bad once every segment is in are fetched again in another round.
      for (;;) {
        if (this.pending.length > 0) await this.fetchAll();
        if (this.failure) throw this.failure;
        this.hasher.advance(this.size);
        await this.hasher.drained();
        if (this.failure) throw this.failure;
        if (this.pending.length === 0) break;
      }
    } finally {
      await this.settleJournal();
    }
    const digest = await this.hasher.finish();
    this.hasher = undefined;
    await this.ingest.commit(digest);
  }

  /**
   * A piece did not match its digest: the segments it spans (finished, behind the hash) are
   * written again from the network; the rest of the blob is kept.
   */
  private badPiece(bad: BadPiece): void {
    const times = (this.badPieces.get(bad.index) ?? 0) + 1;
    this.badPieces.set(bad.index, times);
    if (times >= pieceAttempts) {
      this.failure ??= new DigestMismatchError(bad.expected, bad.actual, `piece ${bad.index} (bytes ${bad.start}-${bad.end - 1}) of blob ${this.descriptor.digest}, ${times} times,`);
      this.controller.abort();
      return;
    }
    const segmentSize = this.ingest.segmentLength(0);
    let undone = 0;
    for (let index = Math.floor(bad.start / segmentSize); index * segmentSize < bad.end; index++) {
      undone += this.ingest.bytesWrittenIn(index);
      this.ingest.resetSegment(index);
      if (!this.pending.includes(index)) this.pending.push(index);
    }
    this.pending.sort((a, b) => a - b);
    this.onBytes(-undone, false);
    void this.saveJournal();
  }

  async stop(): Promise<void> {
    this.controller.abort();
    await this.settleJournal();
    await this.hasher?.abort();
  }

  /** No more journal saves: waits for the one in flight, so none lands after commit or close. */
  private async settleJournal(): Promise<void> {
    clearInterval(this.journalTimer);
    this.journalClosed = true;
    this.journalDirty = false;
    while (this.savingJournal) await this.savingJournal;
  }

  /** One save at a time; a request during a save runs once more after it, with the latest state. */
  private saveJournal(): Promise<void> {
    if (this.journalClosed) return Promise.resolve();
    if (this.savingJournal) {
      this.journalDirty = true;
      return this.savingJournal;
    }
    this.savingJournal = this.ingest
      .saveJournal()
      .catch(() => {})
      .finally(() => {
        this.savingJournal = undefined;
        if (this.journalDirty) {
          this.journalDirty = false;
          void this.saveJournal();
        }
      });
    return this.savingJournal;
  }

  private async fetchAll(): Promise<void> {
    const connections = Math.max(1, Math.min(this.options.connections ?? defaultConnections, this.pending.length));
    // The first connection finds out whether the server honours Range before others join.
    let confirm: () => void = () => {};
    const confirmed = new Promise<void>((resolve) => (confirm = resolve));
    const first = this.worker(confirm);
    const others: Promise<void>[] = [];
    if (connections > 1) {
      await Promise.race([confirmed, first.catch(() => {})]);
      if (!this.rangeIgnored && !this.failure) for (let i = 1; i < connections; i++) others.push(this.worker());
    }
    await Promise.allSettled([first, ...others]);
    if (this.failure) throw this.failure;
    // The caller's own reason for aborting goes back to it as it was given (not an OciError).
    if (this.options.signal?.aborted) throw this.options.signal.reason ?? new Error('aborted');
    if (this.rangeIgnored) await this.plainStream();
    else if (this.pending.length === 0 && this.ingest.bytesWritten !== this.size) {
      throw new OciError('STALLED', `The download of ${this.descriptor.digest} stopped at ${this.ingest.bytesWritten} of ${this.size} bytes with no segment left to fetch; a retry resumes it.`);
    }
  }

  private async worker(onRangeHonoured?: () => void): Promise<void> {
    while (!this.failure && !this.rangeIgnored) {
      const index = this.pending.shift();
      if (index === undefined) return;
      try {
        await this.fetchSegment(index, onRangeHonoured);
        onRangeHonoured = undefined;
        this.attemptsWithoutProgress = 0;
        void this.saveJournal();
      } catch (error) {
        if (error instanceof RangeIgnored) {
          this.rangeIgnored = true;
          this.controller.abort();
          onRangeHonoured?.();
          return;
        }
        if (this.options.signal?.aborted || this.failure) return;
        if (!retryable(error) || this.attemptsWithoutProgress >= (this.options.retries ?? 8)) {
          this.failure = error;
          this.controller.abort();
          onRangeHonoured?.();
          return;
        }
        this.pending.unshift(index);
        await sleep(backoffDelay(this.attemptsWithoutProgress++, 250, 10_000), this.options.signal).catch(() => {});
      }
    }
  }

  private async fetchSegment(index: number, onRangeHonoured?: () => void): Promise<void> {
    const segmentSize = this.ingest.segmentLength(0);
    const start = index * segmentSize;
    const length = this.ingest.segmentLength(index);
    const already = this.currentDone(index);
    const offset = start + already;
    const end = start + length - 1;
    const wholeBlob = offset === 0 && end === this.size - 1;
    const response = await this.source.fetchBlob(this.descriptor.digest, {
      offset,
      end: wholeBlob ? undefined : end,
      signal: this.controller.signal,
    });
    if (response.status === 200 && !wholeBlob) {
      response.body.destroy();
      throw new RangeIgnored();
    }
    onRangeHonoured?.();
    // Two reused buffers per connection: network chunks are copied into one while the other is
    // written, so the socket keeps reading during a write, and memory stays flat however large
    // the blob. Writes of a segment land one at a time, in order (the journal counts a prefix).
    const size = Math.min(writeBatch, length);
    const batches = [Buffer.allocUnsafeSlow(size), Buffer.allocUnsafeSlow(size)] as const;
    const unwritten: [Promise<void> | undefined, Promise<void> | undefined] = [undefined, undefined];
    let filling: 0 | 1 = 0;
    let batched = 0;
    let writes: Promise<void> = Promise.resolve();
    const flush = (): void => {
      if (batched === 0) return;
      const which = filling;
      const data = batches[which].subarray(0, batched);
      batched = 0;
      filling = which === 0 ? 1 : 0;
      writes = writes.then(() => this.landBatch(index, data));
      const landed: Promise<void> = writes.then(() => {
        if (unwritten[which] === landed) unwritten[which] = undefined;
      });
      // A failed write surfaces through `writes` (awaited below) and through take's answer.
      landed.catch(() => {});
      unwritten[which] = landed;
    };
    // Returns a promise (the stream pauses) only when the buffer to fill next is still being written.
    const take = (bytes: Buffer): Promise<void> | undefined => {
      for (let from = 0; from < bytes.length; ) {
        const busy = unwritten[filling];
        if (busy) {
          const rest = bytes.subarray(from);
          return busy.then(() => take(rest));
        }
        const n = Math.min(size - batched, bytes.length - from);
        bytes.copy(batches[filling], batched, from, from + n);
        batched += n;
        from += n;
        if (batched === size) flush();
      }
      return undefined;
    };
    // Where the source's body can, socket reads land straight in the buffer being filled.
    const target: BodyTarget = {
      room: () => (unwritten[filling] ? undefined : batches[filling].subarray(batched)),
      filled: (bytes) => {
        batched += bytes;
        if (batched < size) return undefined;
        flush();
        return unwritten[filling];
      },
      take,
    };
    try {
      await (readsInto(response.body) ? response.body.readInto(target) : response.body.consume(take));
    } finally {
      flush();
      await writes;
    }
    // Retried like a reset connection by worker(); if the retries run out, fetchBlobToCache makes it an OciError.
    if (this.currentDone(index) !== length) throw Object.assign(new Error(`segment ${index} ended early`), { code: 'UND_ERR_SOCKET' });
  }

  /** A batch of segment `index` goes to disk; then it counts as progress and may be hashed. */
  private async landBatch(index: number, data: Buffer): Promise<void> {
    await this.ingest.append(index, data);
    noteBytesWritten(data.length);
    this.onBytes(data.length, true);
    this.attemptsWithoutProgress = 0;
    this.hasher?.advance(this.ingest.frontier);
  }

  private currentDone(index: number): number {
    return this.ingest.bytesWrittenIn(index);
  }

  /** The server ignores Range: start over with one stream of the whole blob. */
  private async plainStream(): Promise<void> {
    this.pending.length = 0;
    await this.hasher?.abort();
    const undone = this.ingest.bytesWritten;
    this.onBytes(-undone, false);
    await this.ingest.prepareFresh(this.size);
    this.hasher = createFileHasher(this.ingest.dataPath, this.size);
    for (let attempt = 0; ; attempt++) {
      try {
        const response = await this.source.fetchBlob(this.descriptor.digest, { signal: this.options.signal });
        if (response.status === 206) {
          response.body.destroy();
          throw new OciError('REGISTRY_ERROR', `The source answered a request for all of ${this.descriptor.digest} with a part of it`, { retryable: false });
        }
        const hasher = this.hasher;
        await response.body.consume(async (chunk) => {
          await this.ingest.append(0, chunk);
          noteBytesWritten(chunk.length);
          this.onBytes(chunk.length, true);
          hasher.advance(this.ingest.frontier);
        });
        return;
      } catch (error) {
        if (this.options.signal?.aborted || !retryable(error) || attempt >= (this.options.retries ?? 8)) throw error;
        this.onBytes(-this.ingest.bytesWritten, false);
        await this.hasher.abort();
        await this.ingest.prepareFresh(this.size);
        this.hasher = createFileHasher(this.ingest.dataPath, this.size);
        await sleep(backoffDelay(attempt, 250, 10_000), this.options.signal);
      }
    }
  }
}
