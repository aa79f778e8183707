// The host cache: a content store of verified blobs, index.json naming held manifests, and
// images materialized for VM creation. Safe for several processes at once: index.json changes
// happen under a lock and land atomically; blobs appear only through Ingest.commit().
import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { copyFile, link, lstat, lutimes, mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256, type Digest } from '../digest.ts';
import { DigestMismatchError, OciError } from '../errors.ts';
import { parseManifest, type Descriptor, type ImageIndex } from '../manifest.ts';
import { Annotation, isIndexMediaType, MediaType } from '../media-types.ts';
import { CacheLinkError, exists, isNoSpace, noFollow, openNoFollow, readFileNoFollow, writeFileAtomic } from './fsutil.ts';
import { Ingest, type IngestOptions } from './ingest.ts';
import { CacheLayout } from './layout.ts';
import { acquireLock, lockHeld, processAlive } from './lock.ts';
import { assertSafeCacheDirectory, currentOwnerRule, type CacheOwnerRule } from './ownership.ts';
import { PieceBoard } from './pieces.ts';
import { asNoSpaceError, SpaceLedger } from './space.ts';

/** Our annotation on index.json entries: the full reference an image was pulled as. */
export const referenceAnnotation = 'io.ciderfleet.reference';

/** images/<hex>/image.json: what a VM tool needs to know about a materialized image. */
export interface ImageRecord {
  manifest: Digest;
  mediaType: string;
  artifactType?: string;
  reference?: string;
  /** The image's config as the publisher wrote it (for Cider images: os, version, build...). */
  config?: unknown;
  /**
   * Files by name. A file stored as several layers lists them in `parts` (in order); it is joined
   * into one file (a copy, checked against `digest`) instead of hard-linked.
   */
  files: { name: string; digest: Digest; size: number; mediaType: string; parts?: Digest[]; placement?: Placement }[];
  /** Bytes of config and layers together. */
  size: number;
  pulledAt: string;
}

export interface CachedImage {
  digest: Digest;
  mediaType: string;
  tags: string[];
  reference?: string;
  size: number;
  pulledAt?: string;
  lastUsedAt?: string;
  materialized: boolean;
}

/**
 * One entry per tag (the last one added wins, so a tag moves), plus one untagged entry for each
 * held manifest that no tag names any more.
 */
function normaliseEntries(entries: Descriptor[]): Descriptor[] {
  const tagOf = (d: Descriptor) => d.annotations?.[Annotation.refName];
  const byTag = new Map<string, Descriptor>();
  const untagged: Descriptor[] = [];
  for (const entry of entries) {
    const tag = tagOf(entry);
    if (tag === undefined) {
      untagged.push(entry);
      continue;
    }
    const previous = byTag.get(tag);
    if (previous && previous.digest !== entry.digest) {
      const { [Annotation.refName]: _moved, ...rest } = previous.annotations ?? {};
      untagged.push({ ...previous, annotations: rest });
    }
    byTag.set(tag, entry);
  }
  const result = [...byTag.values()];
  const held = new Set(result.map((d) => d.digest));
  for (const entry of untagged) {
    if (held.has(entry.digest)) continue;
    if (entry.annotations && Object.keys(entry.annotations).length === 0) delete entry.annotations;
    result.push(entry);
    held.add(entry.digest);
  }
  return result;
}

export interface Lease {
  release(): Promise<void>;
}

/**
 * How a payload file sits in images/<hex>/: a copy-on-write clone of its blob (APFS, XFS,
 * btrfs: no extra space, and writes to it never reach the blob), a read-only hard link to the
 * blob where the filesystem cannot clone, or a file joined from several part blobs.
 */
export type Placement = 'clone' | 'link' | 'joined';

/** The two filesystem calls materialization places payloads with; tests can stand in for clone. */
export interface PayloadPlacer {
  /** A copy-on-write clone; throws where the filesystem cannot make one (it never copies). */
  clone(source: string, target: string): Promise<void>;
  link(source: string, target: string): Promise<void>;
}

export const filesystemPlacer: PayloadPlacer = {
  clone: (source, target) => copyFile(source, target, constants.COPYFILE_FICLONE_FORCE),
  link: (source, target) => link(source, target),
};

export interface HostCacheOptions {
  /** Who may own the cache directory (this process's uid by default). */
  owner?: CacheOwnerRule;
  placer?: PayloadPlacer;
}

export class HostCache {
  readonly layout: CacheLayout;
  /** Reservations of pulls in flight and digests refused for want of space (this process). */
  readonly space = new SpaceLedger();
  /** Verified pieces of blobs this process is downloading, for the peer server (./pieces.ts). */
  readonly pieces = new PieceBoard();
  private readonly placer: PayloadPlacer;

  private constructor(root: string, options: HostCacheOptions) {
    this.layout = new CacheLayout(root);
    this.placer = options.placer ?? filesystemPlacer;
  }

  /**
   * Opens (creating if needed) a cache. Refuses a directory someone else could write into
   * (see ownership.ts), before and after laying it out.
   */
  static async open(root: string, options: HostCacheOptions = {}): Promise<HostCache> {
    const cache = new HostCache(root, options);
    const owner = options.owner ?? currentOwnerRule();
    await mkdir(root, { recursive: true, mode: 0o755 });
    await assertSafeCacheDirectory(root, owner);
    await cache.layout.init();
    for (const dir of cache.layout.directories) await assertSafeCacheDirectory(dir, owner, false);
    return cache;
  }

  get root(): string {
    return this.layout.root;
  }

  async hasBlob(digest: string): Promise<boolean> {
    return exists(this.layout.blobPath(digest));
  }

  blobPath(digest: string): string {
    return this.layout.blobPath(digest);
  }

  /** Reads a small blob (manifest, config) and re-verifies it: the disk may have rotted. */
  async readBlob(digest: Digest): Promise<Buffer> {
    const bytes = await readFileNoFollow(this.layout.blobPath(digest));
    const actual = sha256(bytes);
    if (actual !== digest) throw new DigestMismatchError(digest, actual, `cached blob (run cache fsck)`);
    return bytes;
  }

  /** Bytes of `digest` already downloaded in a partial download (resumed, not fetched again). */
  partialBytes(digest: Digest, size: number): Promise<number> {
    return Ingest.partialBytes(this.layout, digest, size);
  }

  openIngest(digest: Digest, size: number, options?: IngestOptions): Promise<Ingest | 'exists'> {
    return Ingest.open(this.layout, digest, size, options);
  }

  /** Stores a small blob held in memory, verified like any other. */
  async putBlob(digest: Digest, bytes: Buffer): Promise<void> {
    const ingest = await this.openIngest(digest, bytes.length);
    if (ingest === 'exists') return;
    try {
      await ingest.prepareFresh(Math.max(bytes.length, 1));
      if (bytes.length > 0) await ingest.append(0, bytes);
      await ingest.commit(sha256(bytes));
    } catch (error) {
      await ingest.close().catch(() => {});
      throw error;
    }
  }

  async readIndex(): Promise<ImageIndex> {
    return JSON.parse(await readFileNoFollow(this.layout.indexFile, 'utf8')) as ImageIndex;
  }

  /** Read-modify-write of index.json under the cache's index lock, written atomically. */
  async updateIndex(change: (index: ImageIndex) => void): Promise<void> {
    const lock = await acquireLock(join(this.layout.locksDir, 'index.lock'), 'update index.json');
    try {
      const index = await this.readIndex();
      change(index);
      await writeFileAtomic(this.layout.indexFile, `${JSON.stringify(index, null, 2)}\n`);
    } finally {
      await lock.release();
    }
  }

  /**
   * Records a held manifest in index.json. With a tag, the tag names this manifest from now on
   * (if it named another one, that entry loses the tag but stays held). Entries are one per
   * (manifest, tag), which the image-layout spec allows.
   */
  async addToIndex(descriptor: Descriptor, options: { tag?: string; reference?: string } = {}): Promise<void> {
    if (!(await this.hasBlob(descriptor.digest))) {
      throw new OciError('CACHE_CORRUPT', `Refusing to index ${descriptor.digest}: its manifest blob is not in the cache`);
    }
    await this.updateIndex((index) => {
      const annotations: Record<string, string> = { ...descriptor.annotations };
      if (options.tag) annotations[Annotation.refName] = options.tag;
      if (options.reference) annotations[referenceAnnotation] = options.reference;
      const entry: Descriptor = { mediaType: descriptor.mediaType, digest: descriptor.digest, size: descriptor.size };
      if (descriptor.platform) entry.platform = descriptor.platform;
      if (descriptor.artifactType) entry.artifactType = descriptor.artifactType;
      if (Object.keys(annotations).length > 0) entry.annotations = annotations;

      index.manifests = normaliseEntries([...index.manifests, entry]);
      index.mediaType = MediaType.ociIndex;
    });
  }

  /** Removes every index.json entry for a manifest. */
  async removeFromIndex(digest: Digest): Promise<void> {
    await this.updateIndex((index) => {
      index.manifests = index.manifests.filter((m) => m.digest !== digest);
    });
  }

  /**
   * Materializes an image for VM creation: each file placed by its title into images/<hex>/
   * at no extra disk (a clone where the filesystem has them, else a read-only hard link; see
   * Placement), plus image.json saying which. Built in a temporary directory and renamed into
   * place, so the folder is complete or absent.
   */
  async materialize(record: ImageRecord): Promise<string> {
    const target = this.layout.imagePath(record.manifest);
    if (await exists(join(target, 'image.json'))) return target;
    const building = `${target}.${process.pid}.${randomBytes(3).toString('hex')}.tmp`;
    await mkdir(building, { recursive: true });
    const placed: ImageRecord = { ...record, files: [] };
    try {
      for (const file of record.files) {
        if (file.name.includes('/') || file.name === '..' || file.name === '.' || file.name === '') {
          throw new OciError('INVALID_MANIFEST', `Refusing to materialize a file named ${JSON.stringify(file.name)}`);
        }
        let placement: Placement;
        if (file.parts && file.parts.length > 1) {
          await this.join(file.parts, join(building, file.name), file.digest, file.size);
          placement = 'joined';
        } else placement = await this.place(this.layout.blobPath(file.parts?.[0] ?? file.digest), join(building, file.name));
        placed.files.push({ ...file, placement });
      }
      await writeFileAtomic(join(building, 'image.json'), `${JSON.stringify(placed, null, 2)}\n`);
      await rm(target, { recursive: true, force: true });
      await rename(building, target);
    } catch (error) {
      await rm(building, { recursive: true, force: true });
      throw await asNoSpaceError(error, this.root, record.files.filter((f) => f.parts && f.parts.length > 1).reduce((sum, f) => sum + f.size, 0));
    }
    await this.touch(record.manifest);
    return target;
  }

  /**
   * A clone of the blob if the filesystem makes one, else a hard link to it. Either way the name
   * is read-only (0444); and with a clone even a root process writing to it leaves the blob as
   * verified.
   */
  private async place(blob: string, target: string): Promise<Placement> {
    // link(2) follows a link on macOS: only ever place a regular file.
    const info = await lstat(blob);
    if (info.isSymbolicLink()) throw new CacheLinkError(blob);
    if (!info.isFile()) throw new OciError('CACHE_CORRUPT', `Refusing to place ${blob}: it is not a regular file (run cache fsck)`);
    let placement: Placement = 'clone';
    try {
      await this.placer.clone(blob, target);
    } catch (error) {
      if (isNoSpace(error)) throw error;
      // Not a cloning filesystem (ENOTSUP, EXDEV, EINVAL...): a read-only hard link instead.
      await rm(target, { force: true });
      await this.placer.link(blob, target);
      placement = 'link';
    }
    const handle = await openNoFollow(target);
    try {
      await handle.chmod(0o444);
    } finally {
      await handle.close();
    }
    return placement;
  }

  /** Concatenates verified part blobs into `target`, hashing as it goes; the result must match `digest`. */
  private async join(parts: Digest[], target: string, digest: Digest, size: number): Promise<void> {
    const hash = createHash('sha256');
    const out = await open(target, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | noFollow, 0o644);
    let written = 0;
    try {
      for (const part of parts) {
        const input = await openNoFollow(this.layout.blobPath(part));
        for await (const chunk of input.createReadStream({ highWaterMark: 1 << 20 })) {
          hash.update(chunk as Buffer);
          await out.write(chunk as Buffer);
          written += (chunk as Buffer).length;
        }
      }
      await out.sync();
    } finally {
      await out.close();
    }
    const actual = `sha256:${hash.digest('hex')}`;
    if (written !== size || actual !== digest) throw new DigestMismatchError(digest, actual, `file joined from ${parts.length} parts (${written} bytes)`);
    const handle = await openNoFollow(target);
    try {
      await handle.chmod(0o444);
    } finally {
      await handle.close();
    }
  }

  async readImageRecord(manifest: Digest): Promise<ImageRecord | undefined> {
    try {
      return JSON.parse(await readFileNoFollow(join(this.layout.imagePath(manifest), 'image.json'), 'utf8')) as ImageRecord;
    } catch {
      return undefined;
    }
  }

  /** For a multi-platform index, the record of the platform manifest that was pulled. */
  private async platformRecord(digest: Digest, mediaType: string): Promise<ImageRecord | undefined> {
    if (!isIndexMediaType(mediaType) || !(await this.hasBlob(digest))) return undefined;
    try {
      const index = parseManifest(await this.readBlob(digest), mediaType);
      if (!('manifests' in index)) return undefined;
      for (const child of index.manifests) {
        const record = await this.readImageRecord(child.digest);
        if (record) return record;
      }
    } catch {
      // unreadable index: reported by fsck
    }
    return undefined;
  }

  /** Marks an image used now (the image.json mtime is its last-used time). */
  async touch(manifest: Digest): Promise<void> {
    const file = join(this.layout.imagePath(manifest), 'image.json');
    const now = new Date();
    // lutimes: a link planted as image.json has its own times changed, never its target's.
    await lutimes(file, now, now).catch(() => {});
  }

  /** Every held manifest with its tags, size and usage. */
  async listImages(): Promise<CachedImage[]> {
    const index = await this.readIndex();
    const byDigest = new Map<Digest, CachedImage>();
    for (const entry of index.manifests) {
      let image = byDigest.get(entry.digest);
      if (!image) {
        image = { digest: entry.digest, mediaType: entry.mediaType, tags: [], size: entry.size, materialized: false };
        byDigest.set(entry.digest, image);
      }
      const tag = entry.annotations?.[Annotation.refName];
      if (tag && !image.tags.includes(tag)) image.tags.push(tag);
      const reference = entry.annotations?.[referenceAnnotation];
      if (reference) image.reference = reference;
    }
    for (const image of byDigest.values()) {
      const record = (await this.readImageRecord(image.digest)) ?? (await this.platformRecord(image.digest, image.mediaType));
      if (record) {
        image.materialized = true;
        image.size = record.size;
        image.pulledAt = record.pulledAt;
        image.reference ??= record.reference;
        const info = await stat(join(this.layout.imagePath(record.manifest), 'image.json')).catch(() => undefined);
        if (info) image.lastUsedAt = info.mtime.toISOString();
      }
    }
    return [...byDigest.values()];
  }

  /** Bytes held in verified blobs (what the cache costs on disk; hard links cost nothing more). */
  async blobBytes(): Promise<number> {
    let total = 0;
    for (const algorithm of await readdir(this.layout.blobsDir).catch(() => [] as string[])) {
      const dir = join(this.layout.blobsDir, algorithm);
      for (const name of await readdir(dir).catch(() => [] as string[])) {
        const info = await stat(join(dir, name)).catch(() => undefined);
        if (info?.isFile()) total += info.size;
      }
    }
    return total;
  }

  /**
   * Declares digests a running operation needs; prune leaves them alone until release().
   * The lease is written first, then we wait out any prune already running: a prune that
   * started earlier may not have seen the lease, one that starts later will.
   */
  async lease(digests: string[], purpose: string): Promise<Lease> {
    const file = join(this.layout.leasesDir, `${process.pid}-${randomBytes(4).toString('hex')}.json`);
    await writeFileAtomic(file, JSON.stringify({ pid: process.pid, purpose, digests, since: new Date().toISOString() }));
    const pruneLock = join(this.layout.locksDir, 'prune.lock');
    while (await lockHeld(pruneLock)) await new Promise((r) => setTimeout(r, 100));
    return { release: () => rm(file, { force: true }) };
  }

  /** Digests named by leases of live processes (stale leases of dead processes are removed). */
  async leasedDigests(): Promise<Set<string>> {
    const leased = new Set<string>();
    const files = await readdir(this.layout.leasesDir).catch(() => [] as string[]);
    for (const name of files) {
      const path = join(this.layout.leasesDir, name);
      try {
        const lease = JSON.parse(await readFileNoFollow(path, 'utf8')) as { pid: number; digests: string[] };
        if (!processAlive(lease.pid)) {
          await rm(path, { force: true });
          continue;
        }
        for (const digest of lease.digests) leased.add(digest);
      } catch {
        // A lease being written right now; leave it.
      }
    }
    return leased;
  }
}
