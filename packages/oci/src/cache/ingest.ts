// Partial downloads (containerd's ingest): a blob's bytes land in ingest/<hex>/data, a file
// sized to the blob up front so segments can be written wherever they fall; segments.json
// records how much of each segment is written. The blob becomes visible only through commit(),
// which checks size and digest, fsyncs, makes the file read-only and renames it into blobs/.
// A killed download leaves data + journal behind; the next open() resumes from the journal.
// A full disk (ENOSPC) is InsufficientSpaceError; the journal only ever claims bytes a write
// call confirmed, so the partial data stays resumable once space is freed.
// Written bytes are sent on to the disk while the download runs (writeback below), so commit's
// fsync finds little left to do instead of the whole blob.
import { mkdir, readdir, rename, rm, rmdir, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseDigest, type Digest } from '../digest.ts';
import { DigestMismatchError, OciError, SizeMismatchError } from '../errors.ts';
import { assertRealDirectory, blobWrites, exists, fsyncDir, openForWriteNoFollow, openNoFollow, readFileNoFollow, writeFileAtomic } from './fsutil.ts';
import type { CacheLayout } from './layout.ts';
import { acquireLock, type Lock } from './lock.ts';
import { asNoSpaceError } from './space.ts';

export interface IngestOptions {
  signal?: AbortSignal;
  /** Told when another process is already fetching this blob and we wait for it. */
  onWait?: (holder: string) => void;
}

interface Journal {
  version: 1;
  size: number;
  segmentSize: number;
  /** Bytes written contiguously from the start of each segment. */
  done: number[];
}

const MiB = 1024 * 1024;

/**
 * How written bytes reach the disk before commit. Linux keeps gigabytes of a download dirty in
 * the page cache (dirty_background_ratio of RAM), and commit's fsync then wrote all of a 1 GiB
 * blob at once: 1.5-2 s after the last byte arrived, on a disk slower than loopback. An
 * fdatasync every `everyBytes` written, one at a time, keeps the disk busy during the download
 * instead. Only tests replace the calls: to fail them the way a dying disk does.
 */
export const writeback = {
  everyBytes: 64 * MiB,
  datasync: (handle: FileHandle): Promise<void> => handle.datasync(),
  /** commit's fsync: after it, the blob survives a power cut. */
  fsync: (handle: FileHandle): Promise<void> => handle.sync(),
};

export class Ingest {
  private journal: Journal | undefined;
  private handle: FileHandle | undefined;
  private writtenSinceWriteback = 0;
  private writebackInFlight: Promise<void> | undefined;
  /** A writeback failed: written bytes may not be on the disk, whatever the journal said. */
  private lostWrites: unknown;
  private journalSaves: Promise<void> = Promise.resolve();

  private constructor(
    readonly digest: Digest,
    readonly size: number,
    private readonly layout: CacheLayout,
    readonly dir: string,
    private readonly lock: Lock,
  ) {}

  /**
   * Opens the ingest for a blob, waiting while another process holds it. Returns 'exists'
   * when the blob is (or became, while we waited) already in the cache.
   */
  static async open(layout: CacheLayout, digest: Digest, size: number, options: IngestOptions = {}): Promise<Ingest | 'exists'> {
    const { algorithm } = parseDigest(digest);
    if (algorithm !== 'sha256') throw new OciError('INVALID_DIGEST', `Only sha256 blobs can be cached (got ${digest})`);
    if (!Number.isSafeInteger(size) || size < 0) throw new SizeMismatchError(0, size, `descriptor of ${digest}`);
    if (await exists(layout.blobPath(digest))) return 'exists';
    const dir = layout.ingestPath(digest);
    await mkdir(dir, { recursive: true });
    await assertRealDirectory(dir);
    const lock = await acquireLock(join(dir, 'lock'), `fetch ${digest}`, { signal: options.signal, onWait: options.onWait });
    if (await exists(layout.blobPath(digest))) {
      await clearExceptLock(dir);
      await lock.release();
      await removeIfEmpty(dir);
      return 'exists';
    }
    return new Ingest(digest, size, layout, dir, lock);
  }

  /**
   * Bytes of a partial download of `digest` already on disk, by its journal (0 when there is
   * none): what a resumed pull need not find room for again.
   */
  static async partialBytes(layout: CacheLayout, digest: Digest, size: number): Promise<number> {
    try {
      const saved = JSON.parse(await readFileNoFollow(join(layout.ingestPath(digest), 'segments.json'), 'utf8')) as Partial<Journal>;
      if (saved.size !== size || !Array.isArray(saved.done)) return 0;
      const done = saved.done.reduce((sum: number, d: unknown) => sum + (Number.isSafeInteger(d) && (d as number) > 0 ? (d as number) : 0), 0);
      return Math.min(size, done);
    } catch {
      return 0;
    }
  }

  get dataPath(): string {
    return join(this.dir, 'data');
  }

  private get journalPath(): string {
    return join(this.dir, 'segments.json');
  }

  /**
   * Prepares the data file for segments of `segmentSize` bytes. A journal left by an earlier run
   * for the same blob is kept (its segment size wins); anything else starts from nothing.
   */
  async prepare(segmentSize: number): Promise<{ segmentSize: number; done: readonly number[] }> {
    let journal: Journal | undefined;
    try {
      const saved = JSON.parse(await readFileNoFollow(this.journalPath, 'utf8')) as Journal;
      const segments = Math.max(1, Math.ceil(this.size / saved.segmentSize));
      const valid =
        saved.version === 1 &&
        saved.size === this.size &&
        saved.segmentSize > 0 &&
        saved.done.length === segments &&
        saved.done.every((d, i) => Number.isSafeInteger(d) && d >= 0 && d <= this.segmentLength(i, saved.segmentSize));
      if (valid && (await exists(this.dataPath))) journal = saved;
    } catch {
      // no journal, or unreadable: start over
    }
    if (journal) {
      this.handle = await openNoFollow(this.dataPath, 'r+');
      const { size } = await this.handle.stat();
      if (size !== this.size) {
        await this.handle.close();
        journal = undefined;
      }
    }
    if (!journal) {
      const segments = Math.max(1, Math.ceil(this.size / segmentSize));
      journal = { version: 1, size: this.size, segmentSize, done: new Array<number>(segments).fill(0) };
      this.handle = await openForWriteNoFollow(this.dataPath, 0o644);
      try {
        await this.handle.truncate(this.size);
        await this.saveJournal(journal);
      } catch (error) {
        throw await asNoSpaceError(error, this.layout.root, this.size);
      }
    }
    this.journal = journal;
    return { segmentSize: journal.segmentSize, done: journal.done };
  }

  /** Throws the journal away and starts an empty file of one segment (for a plain stream). */
  async prepareFresh(segmentSize: number): Promise<void> {
    await this.settleWriteback();
    await this.handle?.close().catch(() => {});
    this.handle = undefined;
    await rm(this.journalPath, { force: true });
    await rm(this.dataPath, { force: true });
    await this.prepare(segmentSize);
  }

  bytesWrittenIn(index: number): number {
    return this.journal!.done[index]!;
  }

  segmentLength(index: number, segmentSize = this.journal!.segmentSize): number {
    return Math.max(0, Math.min(segmentSize, this.size - index * segmentSize));
  }

  /** Bytes already written (for progress and resume accounting). */
  get bytesWritten(): number {
    return this.journal?.done.reduce((a, b) => a + b, 0) ?? 0;
  }

  /** End of the contiguous written prefix: everything before it may be hashed. */
  get frontier(): number {
    const journal = this.journal!;
    let position = 0;
    for (let i = 0; i < journal.done.length; i++) {
      position += journal.done[i]!;
      if (journal.done[i]! < this.segmentLength(i)) break;
    }
    return position;
  }

  /** Writes bytes of segment `index` at its current end; the journal moves on once they are written. */
  async append(index: number, data: Buffer): Promise<void> {
    if (this.lostWrites) throw this.lostWrites;
    const journal = this.journal!;
    const done = journal.done[index]!;
    if (done + data.length > this.segmentLength(index)) {
      throw new SizeMismatchError(this.segmentLength(index), done + data.length, `segment ${index} of blob ${this.digest}`);
    }
    const position = index * journal.segmentSize + done;
    let written = 0;
    try {
      while (written < data.length) {
        const { bytesWritten } = await blobWrites.write(this.handle!, data, written, data.length - written, position + written);
        written += bytesWritten;
      }
    } catch (error) {
      // A short write before the failure (the disk filled up mid-batch): those bytes are on
      // disk and count; the ones the call never confirmed do not, so the journal can't claim them.
      if (!this.lostWrites) journal.done[index] = done + written;
      throw await asNoSpaceError(error, this.layout.root, this.size - this.bytesWritten);
    }
    // A writeback failed while this write ran: nothing written may be claimed any more.
    if (this.lostWrites) throw this.lostWrites;
    journal.done[index] = done + data.length;
    this.writtenSinceWriteback += data.length;
    if (this.writtenSinceWriteback >= writeback.everyBytes && !this.writebackInFlight) this.startWriteback();
  }

  private startWriteback(): void {
    this.writtenSinceWriteback = 0;
    this.writebackInFlight = writeback
      .datasync(this.handle!)
      .catch(async (error: unknown) => {
        this.writesLost(await asNoSpaceError(error, this.layout.root, this.size));
        await this.saveJournal().catch(() => {});
      })
      .finally(() => (this.writebackInFlight = undefined));
  }

  /**
   * A failed fdatasync (or fsync) means some written pages never reached the disk, and Linux
   * reports that once: a later fsync on the file succeeds. Which bytes were lost is unknown, so
   * the journal claims none of them any more (a resume fetches the blob again), and every later
   * write or commit fails with the error.
   */
  private writesLost(error: unknown): void {
    this.lostWrites ??= error;
    this.journal?.done.fill(0);
  }

  /** Waits for a writeback in flight (it must not outlive the handle). */
  private async settleWriteback(): Promise<void> {
    while (this.writebackInFlight) await this.writebackInFlight;
  }

  /**
   * Cuts the journal again into segments of `segmentSize` (a piece-scheduled download fetches
   * whole pieces): the new segments listed in `full` count as written, every other starts over.
   * The caller checks the bytes of the kept ones (it hashes them) before trusting them.
   */
  rebase(segmentSize: number, full: ReadonlySet<number>): readonly number[] {
    const segments = Math.max(1, Math.ceil(this.size / segmentSize));
    const done = Array.from({ length: segments }, (_, i) => (full.has(i) ? this.segmentLength(i, segmentSize) : 0));
    this.journal = { version: 1, size: this.size, segmentSize, done };
    return done;
  }

  /** Forgets a segment's bytes (a server answered a Range request with the wrong content). */
  resetSegment(index: number): void {
    this.journal!.done[index] = 0;
  }

  /**
   * Persists the journal; called as segments complete and now and then, so a kill loses little.
   * Not fsynced: a killed process leaves its writes in the page cache; after a power cut a
   * journal may claim bytes that never reached the disk, which the digest check at commit catches.
   */
  async saveJournal(journal: Journal | undefined = this.journal): Promise<void> {
    if (!journal) return;
    // One save at a time, each written from the journal as it is when its turn comes: a save
    // started earlier can never land after a later one with older claims.
    const save = this.journalSaves.then(() => writeFileAtomic(this.journalPath, JSON.stringify(journal), 0o644, { durable: false }));
    this.journalSaves = save.catch(() => {});
    await save;
  }

  /** Verifies size and digest, then moves the blob into blobs/ read-only. Discards the data on mismatch. */
  async commit(actualDigest: string): Promise<void> {
    await this.settleWriteback();
    if (this.lostWrites) throw this.lostWrites;
    const written = this.bytesWritten;
    if (written !== this.size) {
      await this.discard();
      throw new SizeMismatchError(this.size, written, `blob ${this.digest}`);
    }
    if (actualDigest !== this.digest) {
      await this.discard();
      throw new DigestMismatchError(this.digest, actualDigest, 'blob');
    }
    const handle = this.handle!;
    this.handle = undefined;
    try {
      await writeback.fsync(handle).catch(async (error: unknown) => {
        this.writesLost(error);
        await this.saveJournal().catch(() => {});
        throw error;
      });
      // Through the handle (fchmod), so a name swapped for a link meanwhile changes nothing else.
      await handle.chmod(0o444);
    } finally {
      await handle.close();
    }
    const target = this.layout.blobPath(this.digest);
    await mkdir(dirname(target), { recursive: true });
    await rename(this.dataPath, target);
    await fsyncDir(dirname(target));
    await clearExceptLock(this.dir);
    await this.lock.release();
    await removeIfEmpty(this.dir);
  }

  /** Stops for now: the journal is saved, so a later open() resumes. */
  async close(): Promise<void> {
    await this.settleWriteback();
    const handle = this.handle;
    this.handle = undefined;
    if (handle) {
      await this.saveJournal().catch(() => {});
      await handle.close().catch(() => {});
    }
    await this.lock.release();
  }

  /** Deletes the partial download. */
  async discard(): Promise<void> {
    await this.settleWriteback();
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close().catch(() => {});
    this.journal = undefined;
    await rm(this.dataPath, { force: true });
    await clearExceptLock(this.dir);
    await this.lock.release();
    await removeIfEmpty(this.dir);
  }
}

/** Empties an ingest folder we hold the lock of (a killed writer may have left temporary files). */
async function clearExceptLock(dir: string): Promise<void> {
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (name !== 'lock') await rm(join(dir, name), { force: true, recursive: true });
  }
}

/** Removes an ingest folder unless another process has put its lock there meanwhile. */
async function removeIfEmpty(dir: string): Promise<void> {
  await rmdir(dir).catch(() => {});
}
