// Partial downloads (containerd's ingest): bytes land in ingest/<hex>/data, hashed as they
// arrive, and become a blob only through commit(), which checks size and digest, fsyncs,
// makes the file read-only and renames it into blobs/ atomically. A killed download leaves its
// prefix behind; the next open() rehashes it and resumes from there.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, mkdir, open, rename, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Digest } from '../digest.ts';
import { parseDigest } from '../digest.ts';
import { DigestMismatchError, SizeMismatchError } from '../errors.ts';
import { acquireLock, type Lock } from './lock.ts';
import { exists, fileSize, fsyncDir } from './fsutil.ts';
import type { CacheLayout } from './layout.ts';

/** Writes are gathered into batches of this size: fewer syscalls on the hot path. */
const batchBytes = 1 << 20;

export interface IngestOptions {
  signal?: AbortSignal;
  /** Told when another process is already fetching this blob and we wait for it. */
  onWait?: (holder: string) => void;
}

export class Ingest {
  private hash: Hash;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private written: number;

  private constructor(
    readonly digest: Digest,
    readonly size: number,
    private readonly layout: CacheLayout,
    private readonly dir: string,
    private handle: FileHandle,
    private readonly lock: Lock,
    hash: Hash,
    offset: number,
  ) {
    this.hash = hash;
    this.written = offset;
  }

  /**
   * Opens the ingest for a blob, waiting while another process holds it. Returns 'exists'
   * when the blob is (or became, while we waited) already in the cache.
   */
  static async open(layout: CacheLayout, digest: Digest, size: number, options: IngestOptions = {}): Promise<Ingest | 'exists'> {
    const { algorithm } = parseDigest(digest);
    if (algorithm !== 'sha256') throw new Error(`Only sha256 blobs can be cached (got ${digest})`);
    if (await exists(layout.blobPath(digest))) return 'exists';
    const dir = layout.ingestPath(digest);
    await mkdir(dir, { recursive: true });
    const lock = await acquireLock(join(dir, 'lock'), `fetch ${digest}`, { signal: options.signal, onWait: options.onWait });
    try {
      if (await exists(layout.blobPath(digest))) {
        await lock.release();
        await rm(dir, { recursive: true, force: true });
        return 'exists';
      }
      const dataPath = join(dir, 'data');
      const meta = join(dir, 'meta.json');
      if (!(await exists(meta))) await writeFile(meta, JSON.stringify({ digest, size, startedAt: new Date().toISOString() }));
      let offset = (await fileSize(dataPath)) ?? 0;
      if (offset > size) {
        // Longer than the blob can be: not ours to trust. Start over.
        await rm(dataPath, { force: true });
        offset = 0;
      }
      const hash = createHash('sha256');
      if (offset > 0) {
        // Rehash the prefix a killed run left behind (local disk, much faster than the network).
        for await (const chunk of createReadStream(dataPath, { end: offset - 1, highWaterMark: batchBytes })) hash.update(chunk as Buffer);
      }
      const handle = await open(dataPath, offset > 0 ? 'r+' : 'w', 0o644);
      return new Ingest(digest, size, layout, dir, handle, lock, hash, offset);
    } catch (error) {
      await lock.release();
      throw error;
    }
  }

  /** Bytes already in hand; a resumed download asks the registry for the rest. */
  get offset(): number {
    return this.written + this.pendingBytes;
  }

  async write(chunk: Buffer): Promise<void> {
    if (this.offset + chunk.length > this.size) {
      throw new SizeMismatchError(this.size, this.offset + chunk.length, `blob ${this.digest}`);
    }
    this.hash.update(chunk);
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes >= batchBytes) await this.flush();
  }

  /** Writes buffered bytes to disk (positioned, so a resumed file continues where it stopped). */
  async flush(): Promise<void> {
    if (this.pendingBytes === 0) return;
    const data = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    const position = this.written;
    this.pendingBytes = 0;
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await this.handle.write(data, done, data.length - done, position + done);
      done += bytesWritten;
    }
    this.written += data.length;
  }

  /** Drops everything received so far (a server ignored our Range and sent the whole blob). */
  async reset(): Promise<void> {
    this.pending = [];
    this.pendingBytes = 0;
    this.written = 0;
    this.hash = createHash('sha256');
    await this.handle.truncate(0);
  }

  /** Verifies size and digest, then moves the blob into blobs/ read-only. Throws (and discards the data) on mismatch. */
  async commit(): Promise<void> {
    await this.flush();
    if (this.written !== this.size) {
      await this.discard();
      throw new SizeMismatchError(this.size, this.written, `blob ${this.digest}`);
    }
    const actual = `sha256:${this.hash.digest('hex')}`;
    if (actual !== this.digest) {
      await this.discard();
      throw new DigestMismatchError(this.digest, actual, `blob`);
    }
    await this.handle.sync();
    await this.handle.close();
    const dataPath = join(this.dir, 'data');
    await chmod(dataPath, 0o444);
    const target = this.layout.blobPath(this.digest);
    await mkdir(dirname(target), { recursive: true });
    await rename(dataPath, target);
    await fsyncDir(dirname(target));
    await this.lock.release();
    await rm(this.dir, { recursive: true, force: true });
  }

  /** Stops for now, keeping the verified-so-far prefix for a later resume. */
  async close(): Promise<void> {
    await this.flush().catch(() => {});
    await this.handle.close().catch(() => {});
    await this.lock.release();
  }

  /** Deletes the partial download. */
  async discard(): Promise<void> {
    await this.handle.close().catch(() => {});
    await rm(join(this.dir, 'data'), { force: true });
    await rm(join(this.dir, 'meta.json'), { force: true });
    await this.lock.release();
    await rm(this.dir, { recursive: true, force: true }).catch(() => {});
  }
}
