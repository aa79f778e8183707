// A piece-scheduled download (issue 10): a blob whose pieces the image's config lists by digest
// is fetched piece by piece from peers (other Macs of the fleet) and from the registry at once.
// Every piece is hashed as it streams in and checked against its digest before it counts: a
// verified piece is marked on the cache's piece board, from where this host's own peer server
// may serve it to others while the rest is still coming. A peer that sends a bad piece is
// dropped for this transfer and reported; a piece that failed, from anyone, is fetched again
// elsewhere. The whole-blob digest is still checked at the end (in order, on the hasher's worker
// thread, as verified pieces join the contiguous prefix).
//
// Who fetches what: rarest piece first from the peers that have it (a few requests per peer),
// and from the registry the pieces no peer has. An `origin` node (the control plane picks a few
// per site) goes to the registry for those at once; the others wait for their peers, and act as
// origins themselves once no peer has made progress for `stallMs` (their origin died) or they
// have no peer left. Registry pieces are chosen at random among those no peer has or is fetching,
// so nodes that go to the registry take different pieces and then feed each other; peers' pieces
// are taken rarest first, walking from each node's own offset (`spreadKey`).
import { createHash } from 'node:crypto';
import type { HostCache } from './cache/cache.ts';
import { openNoFollow } from './cache/fsutil.ts';
import { createFileHasher, type FileHasher, type PieceDigests } from './cache/file-hasher.ts';
import type { Ingest } from './cache/ingest.ts';
import { countPieces, hasPiece, type Bitfield, type PartialBlob } from './cache/pieces.ts';
import type { Digest } from './digest.ts';
import { DigestMismatchError, isOciError, OciError } from './errors.ts';
import { backoffDelay, sleep } from './http/backoff.ts';
import { describeNetworkError, isTransientNetworkError } from './http/transport.ts';
import type { Descriptor } from './manifest.ts';
import { noteBytesWritten } from './memory.ts';
import { readsInto, type BlobRange, type BlobRead } from './source.ts';

/** What a peer says it holds of a blob: everything, or the pieces it has verified. */
export type PeerPieces = 'all' | { pieceSize: number; bits: Bitfield; fetching?: Bitfield };

/** Another node's peer server, as a download sees it (./peer-client.ts is the HTTP one). */
export interface PeerLink {
  /** The peer's node id. */
  readonly id: string;
  readonly name: string;
  fetchBlob(digest: Digest, range: BlobRange): Promise<BlobRead>;
  /** What it holds of `digest` now; undefined when it holds nothing of it. */
  pieces(digest: Digest, signal?: AbortSignal): Promise<PeerPieces | undefined>;
}

export interface SwarmOptions {
  /** The peers to use, asked again at every scheduling round (a renewed plan replaces them). */
  peers(): readonly PeerLink[];
  /** Takes pieces no peer has from the registry at once (else only when peers stall). */
  origin: boolean;
  /** A non-origin node goes to the registry after this long without progress from any peer. Default 10 s. */
  stallMs?: number;
  /** Requests to the registry at once, for an origin (or a node acting as one once its peers stall) with no live peer. Default 4. */
  registryConnections?: number;
  /** The same while it has live peers (other origins share the link). Default 2. */
  registryConnectionsWithPeers?: number;
  /** Requests to one peer at once. Default 2. */
  perPeerConnections?: number;
  /** Requests in all at once. Default 8. */
  maxConnections?: number;
  /** How often the peers' pieces are asked for. Default 300 ms. */
  pollMs?: number;
  /** Spreads registry pieces across nodes: each walks the pieces from its own offset. */
  spreadKey?: string;
  /** A peer sent a piece that failed its digest: it is dropped for this transfer. */
  onBadPeer?(peer: PeerLink, digest: Digest, reason: string): void;
  /** Every peer is dropped or unusable: fresh candidates would help. Called at most every 10 s. */
  onPeersNeeded?(): void;
  /** `bytes` verified bytes came from the registry or from a peer. */
  onSourceBytes?(source: PeerLink | 'registry', bytes: number): void;
}

/** Times one piece may come back wrong from the registry before the download gives up. */
const registryPieceAttempts = 3;
/** Network failures in a row after which a peer is dropped for this transfer. */
const peerFailureLimit = 3;
/** Writes are gathered up to this size per request. */
const writeBatch = 512 * 1024;

interface PeerState {
  link: PeerLink;
  inFlight: number;
  dropped: boolean;
  failures: number;
  backoffUntil: number;
  held: 'all' | Bitfield | undefined;
  heldCount: number;
  /** Pieces it is fetching now: left to it rather than fetched from the registry too. */
  fetching: Bitfield | undefined;
}

type Source = { kind: 'registry' } | { kind: 'peer'; peer: PeerState };

class PeerDropped extends Error {}

/** Ranged reads are what the swarm is made of: a registry that ignores Range cannot take part. */
export class RangeNotHonoured extends Error {}

export interface SwarmRun {
  registry: { fetchBlob(digest: Digest, range: BlobRange): Promise<BlobRead> };
  cache: HostCache;
  ingest: Ingest;
  descriptor: Descriptor;
  pieces: PieceDigests;
  swarm: SwarmOptions;
  signal?: AbortSignal;
  onBytes(delta: number, fetched: boolean): void;
  retries?: number;
  journalIntervalMs?: number;
}

export class SwarmDownload {
  private readonly digest: Digest;
  private readonly size: number;
  private readonly pieceSize: number;
  private readonly count: number;
  private readonly controller = new AbortController();
  private readonly peers = new Map<string, PeerState>();
  private readonly inFlight = new Set<number>();
  private readonly order: number[];
  private partial: PartialBlob | undefined;
  private hasher: FileHasher | undefined;
  private verifiedCount = 0;
  private prefix = 0;
  private registryInFlight = 0;
  private registryBad = new Map<number, number>();
  private registryAttempts = 0;
  private lastPeerProgress = performance.now();
  private lastPeersNeeded = -Infinity;
  /** Peers stalled: this node takes pieces no peer has from the registry as an origin does. */
  private actingOrigin = false;
  private failure: unknown;
  private wake: (() => void) | undefined;
  private journalTimer: NodeJS.Timeout | undefined;
  private journalSave: Promise<void> = Promise.resolve();
  private journalClosed = false;

  constructor(private readonly run_: SwarmRun) {
    this.digest = run_.descriptor.digest;
    this.size = run_.descriptor.size;
    this.pieceSize = run_.pieces.size;
    this.count = run_.pieces.digests.length;
    const offset = run_.swarm.spreadKey ? createHash('sha256').update(run_.swarm.spreadKey).digest().readUInt32BE(0) % this.count : 0;
    this.order = Array.from({ length: this.count }, (_, i) => (i + offset) % this.count);
    run_.signal?.addEventListener('abort', () => this.controller.abort(run_.signal?.reason), { once: true });
  }

  /** Fits when the config's pieces cover the blob exactly. */
  static fits(size: number, pieces: PieceDigests | undefined): pieces is PieceDigests {
    return !!pieces && pieces.size > 0 && pieces.digests.length === Math.max(1, Math.ceil(size / pieces.size));
  }

  async run(): Promise<void> {
    const { ingest, cache } = this.run_;
    try {
      await this.resume();
      this.partial = cache.pieces.open(this.digest, this.size, this.pieceSize, ingest.dataPath);
      const partial = this.partial;
      // What resume() kept was hashed again just now.
      for (let i = 0; i < this.count; i++) if (ingest.bytesWrittenIn(i) === ingest.segmentLength(i)) cache.pieces.markVerified(partial, i);
      this.hasher = createFileHasher(ingest.dataPath, this.size);
      this.advanceWhole();
      this.journalTimer = setInterval(() => void this.saveJournal(), this.run_.journalIntervalMs ?? 250);
      const polling = this.pollPeers();
      try {
        await this.schedule();
      } finally {
        this.controller.abort();
        await polling;
        await Promise.all([...this.running]);
      }
      if (this.failure) throw this.failure;
      this.hasher.advance(this.size);
      // Every advance answered before the digest is asked for (advances in flight are coalesced).
      await this.hasher.drained();
      await this.settleJournal();
      const digest = await this.hasher.finish();
      this.hasher = undefined;
      await ingest.commit(digest);
    } finally {
      clearInterval(this.journalTimer);
      await this.settleJournal();
      if (this.partial) cache.pieces.close(this.partial);
      await this.hasher?.abort();
    }
  }

  /**
   * Takes up a partial download: its journal is cut into piece-sized segments (an earlier run may
   * have used smaller ones nested in pieces), every whole piece on disk is hashed again and kept
   * only if it matches, and partly written pieces start over.
   */
  private async resume(): Promise<void> {
    const { ingest } = this.run_;
    const plan = await ingest.prepare(this.pieceSize);
    if (plan.segmentSize !== this.pieceSize) {
      const full = new Set<number>();
      if (this.pieceSize % plan.segmentSize === 0) {
        const per = this.pieceSize / plan.segmentSize;
        for (let piece = 0; piece < this.count; piece++) {
          let whole = true;
          for (let s = piece * per; s < Math.min(plan.done.length, (piece + 1) * per); s++) if (plan.done[s]! < ingest.segmentLength(s)) whole = false;
          if (whole) full.add(piece);
        }
      }
      ingest.rebase(this.pieceSize, full);
    }
    let kept = 0;
    for (let i = 0; i < this.count; i++) {
      const written = ingest.bytesWrittenIn(i);
      if (written === 0) continue;
      if (written === ingest.segmentLength(i) && (await this.hashOnDisk(i)) === this.run_.pieces.digests[i]) {
        kept += written;
        this.verifiedCount++;
      } else {
        ingest.resetSegment(i);
      }
    }
    await ingest.saveJournal();
    if (kept > 0) this.run_.onBytes(kept, false);
  }

  private async hashOnDisk(index: number): Promise<string> {
    const handle = await openNoFollow(this.run_.ingest.dataPath, 'r');
    try {
      const hash = createHash('sha256');
      const buffer = Buffer.allocUnsafe(Math.min(1024 * 1024, this.pieceSize));
      const start = index * this.pieceSize;
      const end = start + this.run_.ingest.segmentLength(index);
      for (let position = start; position < end; ) {
        const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, end - position), position);
        if (bytesRead === 0) break;
        hash.update(buffer.subarray(0, bytesRead));
        position += bytesRead;
      }
      return `sha256:${hash.digest('hex')}`;
    } finally {
      await handle.close();
    }
  }

  private readonly running = new Set<Promise<void>>();

  private async schedule(): Promise<void> {
    const maxConnections = this.run_.swarm.maxConnections ?? 8;
    while (this.verifiedCount < this.count && !this.failure) {
      if (this.controller.signal.aborted) break;
      this.syncPeers();
      for (let task = this.pick(); task && this.running.size < maxConnections; task = this.running.size < maxConnections ? this.pick() : undefined) {
        const promise: Promise<void> = this.fetchPiece(task.index, task.source).finally(() => {
          this.running.delete(promise);
          this.wakeUp();
        });
        this.running.add(promise);
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, this.run_.swarm.pollMs ?? 300);
      });
      this.wake = undefined;
    }
    if (this.controller.signal.aborted && !this.failure && this.verifiedCount < this.count) {
      this.failure = this.run_.signal?.aborted ? (this.run_.signal.reason ?? new Error('aborted')) : new Error('aborted');
    }
  }

  private wakeUp(): void {
    this.wake?.();
  }

  /** Takes in the current candidates: new ones join, known ones keep their state (a dropped peer stays dropped). */
  private syncPeers(): void {
    for (const link of this.run_.swarm.peers()) {
      if (!this.peers.has(link.id)) this.peers.set(link.id, { link, inFlight: 0, dropped: false, failures: 0, backoffUntil: 0, held: undefined, heldCount: 0, fetching: undefined });
      else {
        const state = this.peers.get(link.id)!;
        // A renewed plan brings a fresh ticket for the same node.
        if (!state.dropped) state.link = link;
      }
    }
  }

  private livePeers(): PeerState[] {
    return [...this.peers.values()].filter((p) => !p.dropped);
  }

  private peerHas(peer: PeerState, index: number): boolean {
    return peer.held === 'all' || (peer.held !== undefined && hasPiece(peer.held, index));
  }

  /** The next piece to fetch and where from, or undefined to wait. */
  private pick(): { index: number; source: Source } | undefined {
    const now = performance.now();
    const perPeer = this.run_.swarm.perPeerConnections ?? 2;
    const live = this.livePeers();
    const partial = this.partial!;
    let best: { index: number; rarity: number } | undefined;
    const noPeerHas: number[] = [];
    for (const index of this.order) {
      if (hasPiece(partial.verified, index) || this.inFlight.has(index)) continue;
      let rarity = 0;
      let usable = false;
      for (const peer of live) {
        if (!this.peerHas(peer, index)) continue;
        rarity++;
        if (peer.inFlight < perPeer && peer.backoffUntil <= now) usable = true;
      }
      // Nobody has it: the registry's, unless a peer is fetching it already (it will have it soon).
      if (rarity === 0 && !live.some((peer) => peer.fetching !== undefined && hasPiece(peer.fetching, index))) noPeerHas.push(index);
      else if (usable && (!best || rarity < best.rarity)) best = { index, rarity };
    }
    if (best) {
      const index = best.index;
      const choices = live.filter((p) => this.peerHas(p, index) && p.inFlight < perPeer && p.backoffUntil <= now);
      choices.sort((a, b) => a.inFlight - b.inFlight || (a.held === 'all' ? 0 : 1) - (b.held === 'all' ? 0 : 1));
      return { index, source: { kind: 'peer', peer: choices[0]! } };
    }
    if (noPeerHas.length === 0) return undefined;
    if (live.length === 0 && now - this.lastPeersNeeded > 10_000) {
      this.lastPeersNeeded = now;
      if (this.peers.size > 0) this.run_.swarm.onPeersNeeded?.();
    }
    // Peers that stall (their origin died, or there never was one) make this node an origin for
    // the rest of the transfer: one piece at a time would leave every node waiting on the others.
    if (!this.actingOrigin && live.length > 0 && now - this.lastPeerProgress >= (this.run_.swarm.stallMs ?? 10_000)) this.actingOrigin = true;
    const origin = this.run_.swarm.origin || this.actingOrigin;
    if (!origin && live.length > 0) return undefined;
    // With peers, fewer pieces at once from the registry: each lands sooner, is shared sooner,
    // and less is lost in flight when an origin dies. Alone, more connections (a registry that
    // caps each connection's speed).
    const limit = live.length > 0 ? (this.run_.swarm.registryConnectionsWithPeers ?? 2) : (this.run_.swarm.registryConnections ?? 4);
    if (this.registryInFlight >= limit) return undefined;
    // A random one of them: two origins walking the pieces in order meet at one frontier and then
    // leapfrog, each starting the piece the other has just started, before either can see it
    // (measured at 8 nodes: 36% of the image fetched twice). Chosen at random, a piece collides
    // only with the few the others started since this node last asked them.
    return { index: noPeerHas[Math.floor(Math.random() * noPeerHas.length)]!, source: { kind: 'registry' } };
  }

  /** Asks every live peer that is not known to hold everything what it holds, every pollMs, until the download ends. */
  private async pollPeers(): Promise<void> {
    const signal = this.controller.signal;
    while (!signal.aborted) {
      const asks = this.livePeers()
        .filter((p) => p.held !== 'all' && p.backoffUntil <= performance.now())
        .map(async (peer) => {
          try {
            const held = await peer.link.pieces(this.digest, AbortSignal.any([signal, AbortSignal.timeout(3_000)]));
            if (held === undefined) {
              peer.held = undefined;
              return;
            }
            if (held !== 'all' && (held.pieceSize !== this.pieceSize || held.bits.length * 8 < this.count)) {
              this.dropPeer(peer, `it cuts ${this.digest} into pieces of ${held.pieceSize} bytes, not ${this.pieceSize}`, true);
              return;
            }
            const count = held === 'all' ? this.count : countPieces(held.bits, this.count);
            if (count > peer.heldCount) {
              this.lastPeerProgress = performance.now();
              this.wakeUp();
            }
            peer.held = held === 'all' ? 'all' : held.bits;
            peer.fetching = held === 'all' ? undefined : held.fetching;
            peer.heldCount = count;
            peer.failures = 0;
          } catch (error) {
            if (!signal.aborted) this.peerFailed(peer, error);
          }
        });
      await Promise.all(asks);
      await sleep(this.run_.swarm.pollMs ?? 300, signal).catch(() => {});
    }
  }

  private peerFailed(peer: PeerState, error: unknown): void {
    if (isOciError(error, 'BUSY')) {
      // All its upload slots are taken (503): try it again shortly, and others meanwhile.
      peer.backoffUntil = performance.now() + 250 + Math.random() * 250;
      return;
    }
    if (isOciError(error, 'UNAUTHORIZED') || isOciError(error, 'DENIED')) {
      this.dropPeer(peer, 'it refused our ticket', false);
      return;
    }
    peer.failures++;
    if (peer.failures >= peerFailureLimit) this.dropPeer(peer, `it failed ${peer.failures} times in a row: ${describe(error)}`, false);
    else peer.backoffUntil = performance.now() + backoffDelay(peer.failures - 1, 500, 5_000);
  }

  private dropPeer(peer: PeerState, reason: string, bad: boolean): void {
    if (peer.dropped) return;
    peer.dropped = true;
    peer.held = undefined;
    peer.fetching = undefined;
    if (bad) this.run_.swarm.onBadPeer?.(peer.link, this.digest, reason);
    this.wakeUp();
  }

  private async fetchPiece(index: number, source: Source): Promise<void> {
    const { ingest } = this.run_;
    const peer = source.kind === 'peer' ? source.peer : undefined;
    this.inFlight.add(index);
    this.run_.cache.pieces.markFetching(this.partial!, index, true);
    if (peer) peer.inFlight++;
    else this.registryInFlight++;
    let written = 0;
    try {
      const start = index * this.pieceSize;
      const length = ingest.segmentLength(index);
      const range = { offset: start, end: start + length - 1, signal: this.controller.signal };
      const response = peer ? await peer.link.fetchBlob(this.digest, range) : await this.run_.registry.fetchBlob(this.digest, range);
      if (response.status !== 206 && !(start === 0 && length === this.size)) {
        response.body.destroy();
        if (peer) throw new PeerDropped('it answered a range request with the whole blob');
        throw new RangeNotHonoured();
      }
      const hash = createHash('sha256');
      const batch = Buffer.allocUnsafeSlow(Math.min(writeBatch, length));
      let batched = 0;
      const flush = async (): Promise<void> => {
        if (batched === 0) return;
        const data = batch.subarray(0, batched);
        await ingest.append(index, data);
        noteBytesWritten(batched);
        written += batched;
        this.run_.onBytes(batched, true);
        batched = 0;
      };
      let received = 0;
      const take = async (chunk: Buffer): Promise<void> => {
        received += chunk.length;
        if (received > length) throw new PeerDropped(`it sent more than the ${length} bytes asked for`);
        hash.update(chunk);
        for (let from = 0; from < chunk.length; ) {
          const n = Math.min(batch.length - batched, chunk.length - from);
          chunk.copy(batch, batched, from, from + n);
          batched += n;
          from += n;
          if (batched === batch.length) await flush();
        }
      };
      const body = response.body;
      if (readsInto(body)) {
        // Socket reads land in the write batch itself: no copy through node:http's parser (on a
        // 2-core host with eight agents, the copies were what slowed pieces passing on).
        await body.readInto({
          room: () => (batched < batch.length ? batch.subarray(batched) : undefined),
          filled: (bytes) => {
            received += bytes;
            if (received > length) throw new PeerDropped(`it sent more than the ${length} bytes asked for`);
            hash.update(batch.subarray(batched, batched + bytes));
            batched += bytes;
            return batched === batch.length ? flush() : undefined;
          },
          take,
        });
      } else {
        await body.consume(take);
      }
      await flush();
      if (received !== length) throw Object.assign(new Error(`the body ended after ${received} of ${length} bytes`), { code: 'ECONNRESET' });
      const actual = `sha256:${hash.digest('hex')}`;
      const expected = this.run_.pieces.digests[index]!;
      if (actual !== expected) {
        this.undo(index, written);
        written = 0;
        if (peer) {
          this.dropPeer(peer, `piece ${index} of ${this.digest} (bytes ${start}-${start + length - 1}) hashed to ${actual}, not ${expected}`, true);
          return;
        }
        const times = (this.registryBad.get(index) ?? 0) + 1;
        this.registryBad.set(index, times);
        if (times >= registryPieceAttempts) this.fail(new DigestMismatchError(expected, actual, `piece ${index} (bytes ${start}-${start + length - 1}) of blob ${this.digest}, ${times} times,`));
        return;
      }
      this.run_.cache.pieces.markVerified(this.partial!, index);
      this.verifiedCount++;
      this.run_.swarm.onSourceBytes?.(peer ? peer.link : 'registry', length);
      if (peer) {
        peer.failures = 0;
        this.lastPeerProgress = performance.now();
      } else {
        this.registryAttempts = 0;
      }
      this.advanceWhole();
      void this.saveJournal();
    } catch (error) {
      this.undo(index, written);
      if (this.controller.signal.aborted) return;
      if (error instanceof RangeNotHonoured) return this.fail(error);
      if (peer) {
        if (error instanceof PeerDropped) this.dropPeer(peer, error.message, true);
        else if (isOciError(error, 'NOT_FOUND') || isOciError(error, 'INVALID_RANGE')) {
          // It no longer has the piece (its bitfield was stale, or it evicted the image).
          peer.held = undefined;
          peer.heldCount = 0;
          peer.backoffUntil = performance.now() + 1_000;
        } else this.peerFailed(peer, error);
        return;
      }
      if (!retryable(error) || this.registryAttempts >= (this.run_.retries ?? 8)) return this.fail(error);
      await sleep(backoffDelay(this.registryAttempts++, 250, 10_000), this.controller.signal).catch(() => {});
    } finally {
      this.inFlight.delete(index);
      this.run_.cache.pieces.markFetching(this.partial!, index, false);
      if (peer) peer.inFlight--;
      else this.registryInFlight--;
    }
  }

  /** A piece's bytes do not count after all: its segment starts over. */
  private undo(index: number, written: number): void {
    this.run_.ingest.resetSegment(index);
    if (written > 0) this.run_.onBytes(-written, false);
  }

  private fail(error: unknown): void {
    this.failure ??= error;
    this.controller.abort();
    this.wakeUp();
  }

  /** Hashes the whole blob along the contiguous run of verified pieces from its start. */
  private advanceWhole(): void {
    const partial = this.partial;
    if (!partial || !this.hasher) return;
    while (this.prefix < this.count && hasPiece(partial.verified, this.prefix)) this.prefix++;
    this.hasher.advance(Math.min(this.size, this.prefix * this.pieceSize));
  }

  private saveJournal(): Promise<void> {
    if (this.journalClosed) return this.journalSave;
    this.journalSave = this.journalSave.then(() => this.run_.ingest.saveJournal()).catch(() => {});
    return this.journalSave;
  }

  private async settleJournal(): Promise<void> {
    clearInterval(this.journalTimer);
    if (!this.journalClosed) await this.saveJournal();
    this.journalClosed = true;
    await this.journalSave;
  }
}

function retryable(error: unknown): boolean {
  return isTransientNetworkError(error) || isOciError(error, 'UNREACHABLE') || isOciError(error, 'STALLED') || (error instanceof OciError && error.retryable);
}

function describe(error: unknown): string {
  if (isTransientNetworkError(error)) return describeNetworkError(error);
  return error instanceof Error ? error.message : String(error);
}
