// In-order sha256 of a file that is being filled out of order. Downloads write segments wherever
// they land; the hasher follows the contiguous written prefix (the "frontier"), reading it back
// from the page cache, so memory never grows with the blob and the hash never waits for the
// network. Large blobs hash on a worker thread: on a busy host the main thread is parsing HTTP
// and writing, and the two run side by side.
import { createHash } from 'node:crypto';
import { OciError } from '../errors.ts';
import { openNoFollow } from './fsutil.ts';
import { Worker } from 'node:worker_threads';

export interface FileHasher {
  /** Hash up to byte `to` (exclusive); it must already be written. */
  advance(to: number): void;
  /** Bytes hashed (and, with pieces, verified) so far. */
  readonly hashed: number;
  /** Resolves once everything asked for is hashed, or a bad piece sent the hasher back. */
  drained(): Promise<void>;
  /** Waits for every advance, returns `sha256:<hex>` of bytes [0, hashed). */
  finish(): Promise<string>;
  /** Stops without a result. */
  abort(): Promise<void>;
}

/** Expected sha256 of each `size` bytes of the file, checked in order before they join the whole. */
export interface PieceDigests {
  size: number;
  digests: readonly string[];
}

/** A piece did not match: the hasher went back to its start; rewrite [start, end) and advance again. */
export interface BadPiece {
  index: number;
  start: number;
  end: number;
  expected: string;
  actual: string;
}

const readBytes = 1 << 20;

// Plain JS so it runs from any bundle: `eval: true` needs no separate worker file.
// With pieces, each piece is hashed on its own as well; the whole-file hash is checkpointed at
// every verified piece (Hash.copy), so a bad piece rolls the whole hash back to its start and
// the download rewrites just that piece. Advances sent before the roll-back carry an old epoch
// and are ignored.
const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const { size, pieceSize, pieces } = workerData;
let hash = createHash('sha256');
let checkpoint = pieces ? hash.copy() : undefined;
let piece = pieces ? createHash('sha256') : undefined;
let pieceStart = 0;
let epoch = 0;
const fd = fs.openSync(workerData.path, fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW || 0));
const buffer = Buffer.allocUnsafe(workerData.readBytes);
let position = 0;
parentPort.on('message', (message) => {
  try {
    if (message.type === 'advance') {
      if (message.epoch !== epoch) return;
      while (position < message.to) {
        const pieceEnd = pieces ? Math.min(pieceStart + pieceSize, size) : message.to;
        const want = Math.min(buffer.length, message.to - position, pieceEnd - position);
        const n = fs.readSync(fd, buffer, 0, want, position);
        if (n <= 0) throw new Error('short read at ' + position);
        const bytes = n === buffer.length ? buffer : buffer.subarray(0, n);
        hash.update(bytes);
        position += n;
        if (!pieces) continue;
        piece.update(bytes);
        if (position !== pieceEnd) continue;
        const index = Math.floor(pieceStart / pieceSize);
        const actual = 'sha256:' + piece.digest('hex');
        piece = createHash('sha256');
        if (actual === pieces[index]) {
          checkpoint = hash.copy();
          pieceStart = position;
          continue;
        }
        hash = checkpoint.copy();
        position = pieceStart;
        epoch++;
        parentPort.postMessage({ type: 'bad-piece', index, start: pieceStart, end: pieceEnd, expected: pieces[index], actual, epoch, position });
        return;
      }
      parentPort.postMessage({ type: 'hashed', position });
    } else if (message.type === 'finish') {
      fs.closeSync(fd);
      parentPort.postMessage({ type: 'digest', digest: 'sha256:' + hash.digest('hex'), position });
    }
  } catch (error) {
    parentPort.postMessage({ type: 'error', message: String(error && error.message || error) });
  }
});
`;

class WorkerHasher implements FileHasher {
  private readonly worker: Worker;
  private requested = 0;
  private done = 0;
  private epoch = 0;
  /** An advance is with the worker, not yet answered. */
  private asked = false;
  private failure: Error | undefined;
  private finishing: ((digest: string) => void) | undefined;
  private finishFailed: ((error: Error) => void) | undefined;
  private waiters: (() => void)[] = [];

  constructor(path: string, size: number, pieces: PieceDigests | undefined, onBadPiece: ((bad: BadPiece) => void) | undefined) {
    const workerData = { path, readBytes, size, pieceSize: pieces?.size, pieces: pieces?.digests };
    this.worker = new Worker(workerSource, { eval: true, workerData });
    this.worker.on('message', (message: { type: string; position?: number; digest?: string; message?: string; epoch?: number } & Partial<BadPiece>) => {
      if (message.type === 'hashed') {
        this.done = message.position!;
        this.asked = false;
        if (this.requested > this.done) this.ask();
      } else if (message.type === 'bad-piece') {
        this.asked = false;
        this.epoch = message.epoch!;
        this.done = message.position!;
        this.requested = message.position!;
        onBadPiece?.({ index: message.index!, start: message.start!, end: message.end!, expected: message.expected!, actual: message.actual! });
      } else if (message.type === 'digest') this.finishing?.(message.digest!);
      else if (message.type === 'error') {
        // A short read of a file this process wrote: it was truncated or the disk failed; a retry would read the same.
        this.failure = new OciError('CACHE_CORRUPT', `Hashing ${path} failed: ${message.message}`);
        this.finishFailed?.(this.failure);
      }
      if (this.done >= this.requested || this.failure) this.wake();
    });
    this.worker.on('error', (error) => {
      this.failure = error;
      this.finishFailed?.(error);
      this.wake();
    });
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  get hashed(): number {
    return this.done;
  }

  /**
   * One advance at a time: while the worker hashes, later advances only move `requested`, and
   * its answer sends them on as one. A message per 512 KiB written cost the main thread about
   * 0.2 s per GiB (postMessage, measured with --cpu-prof), for nothing the worker could use sooner.
   */
  advance(to: number): void {
    if (to <= this.requested) return;
    this.requested = to;
    if (!this.asked) this.ask();
  }

  private ask(): void {
    this.asked = true;
    this.worker.postMessage({ type: 'advance', to: this.requested, epoch: this.epoch });
  }

  drained(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.done >= this.requested) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  async finish(): Promise<string> {
    if (this.failure) throw this.failure;
    const digest = await new Promise<string>((resolve, reject) => {
      this.finishing = resolve;
      this.finishFailed = reject;
      this.worker.postMessage({ type: 'finish' });
    });
    await this.worker.terminate();
    return digest;
  }

  async abort(): Promise<void> {
    this.wake();
    await this.worker.terminate();
  }
}

/** For small blobs a thread costs more than it saves: hash on this thread, reading at the end. */
class InlineHasher implements FileHasher {
  private requested = 0;
  private readonly hash = createHash('sha256');

  constructor(private readonly path: string) {}

  get hashed(): number {
    return 0;
  }

  advance(to: number): void {
    this.requested = Math.max(this.requested, to);
  }

  drained(): Promise<void> {
    return Promise.resolve();
  }

  async finish(): Promise<string> {
    const handle = await openNoFollow(this.path);
    try {
      const buffer = Buffer.allocUnsafe(Math.min(readBytes, Math.max(1, this.requested)));
      let position = 0;
      while (position < this.requested) {
        const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, this.requested - position), position);
        if (bytesRead <= 0) throw new OciError('CACHE_CORRUPT', `Hashing ${this.path} failed: short read at ${position} of ${this.requested} bytes`);
        this.hash.update(buffer.subarray(0, bytesRead));
        position += bytesRead;
      }
    } finally {
      await handle.close();
    }
    return `sha256:${this.hash.digest('hex')}`;
  }

  async abort(): Promise<void> {}
}

/** Blobs at least this large hash on a worker thread. */
export const workerHashThreshold = 16 * 1024 * 1024;

/**
 * Pieces are verified on the worker only: below the worker threshold a blob is hashed in one go
 * at the end, where the whole-blob digest says as much as the pieces would.
 */
export function createFileHasher(path: string, size: number, pieces?: PieceDigests, onBadPiece?: (bad: BadPiece) => void): FileHasher {
  return size >= workerHashThreshold ? new WorkerHasher(path, size, pieces, onBadPiece) : new InlineHasher(path);
}
