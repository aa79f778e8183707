// In-order sha256 of a file that is being filled out of order. Downloads write segments wherever
// they land; the hasher follows the contiguous written prefix (the "frontier"), reading it back
// from the page cache, so memory never grows with the blob and the hash never waits for the
// network. Large blobs hash on a worker thread: on a busy host the main thread is parsing HTTP
// and writing, and the two run side by side.
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';

export interface FileHasher {
  /** Hash up to byte `to` (exclusive); it must already be written. */
  advance(to: number): void;
  /** Bytes hashed so far. */
  readonly hashed: number;
  /** Waits for every advance, returns `sha256:<hex>` of bytes [0, hashed). */
  finish(): Promise<string>;
  /** Stops without a result. */
  abort(): Promise<void>;
}

const readBytes = 1 << 20;

// Plain JS so it runs from any bundle: `eval: true` needs no separate worker file.
const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const hash = createHash('sha256');
const fd = fs.openSync(workerData.path, 'r');
const buffer = Buffer.allocUnsafe(workerData.readBytes);
let position = 0;
parentPort.on('message', (message) => {
  try {
    if (message.type === 'advance') {
      while (position < message.to) {
        const n = fs.readSync(fd, buffer, 0, Math.min(buffer.length, message.to - position), position);
        if (n <= 0) throw new Error('short read at ' + position);
        hash.update(n === buffer.length ? buffer : buffer.subarray(0, n));
        position += n;
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
  private failure: Error | undefined;
  private finishing: ((digest: string) => void) | undefined;
  private finishFailed: ((error: Error) => void) | undefined;

  constructor(path: string) {
    this.worker = new Worker(workerSource, { eval: true, workerData: { path, readBytes } });
    this.worker.on('message', (message: { type: string; position?: number; digest?: string; message?: string }) => {
      if (message.type === 'hashed') this.done = message.position!;
      else if (message.type === 'digest') this.finishing?.(message.digest!);
      else if (message.type === 'error') {
        this.failure = new Error(`hashing failed: ${message.message}`);
        this.finishFailed?.(this.failure);
      }
    });
    this.worker.on('error', (error) => {
      this.failure = error;
      this.finishFailed?.(error);
    });
  }

  get hashed(): number {
    return this.done;
  }

  advance(to: number): void {
    if (to <= this.requested) return;
    this.requested = to;
    this.worker.postMessage({ type: 'advance', to });
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

  async finish(): Promise<string> {
    const handle = await open(this.path, 'r');
    try {
      const buffer = Buffer.allocUnsafe(Math.min(readBytes, Math.max(1, this.requested)));
      let position = 0;
      while (position < this.requested) {
        const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, this.requested - position), position);
        if (bytesRead <= 0) throw new Error(`short read at ${position}`);
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

export function createFileHasher(path: string, size: number): FileHasher {
  return size >= workerHashThreshold ? new WorkerHasher(path) : new InlineHasher(path);
}
