// The host cache: a content store of verified blobs, index.json naming held manifests, and
// images materialized for VM creation. Safe for several processes at once: index.json changes
// happen under a lock and land atomically; blobs appear only through Ingest.commit().
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, link, mkdir, open, readdir, readFile, rename, rm, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256, type Digest } from '../digest.ts';
import { DigestMismatchError, OciError } from '../errors.ts';
import { parseManifest, type Descriptor, type ImageIndex } from '../manifest.ts';
import { Annotation, isIndexMediaType, MediaType } from '../media-types.ts';
import { exists, writeFileAtomic } from './fsutil.ts';
import { Ingest, type IngestOptions } from './ingest.ts';
import { CacheLayout } from './layout.ts';
import { acquireLock, lockHeld, processAlive } from './lock.ts';

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
  files: { name: string; digest: Digest; size: number; mediaType: string; parts?: Digest[] }[];
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

export class HostCache {
  readonly layout: CacheLayout;

  private constructor(root: string) {
    this.layout = new CacheLayout(root);
  }

  static async open(root: string): Promise<HostCache> {
    const cache = new HostCache(root);
    await cache.layout.init();
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
    const bytes = await readFile(this.layout.blobPath(digest));
    const actual = sha256(bytes);
    if (actual !== digest) throw new DigestMismatchError(digest, actual, `cached blob (run cache fsck)`);
    return bytes;
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
    return JSON.parse(await readFile(this.layout.indexFile, 'utf8')) as ImageIndex;
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
   * Materializes an image for VM creation: each file hard-linked by its title into
   * images/<hex>/ (same inode as the blob, no second copy), plus image.json. Built in a
   * temporary directory and renamed into place, so the folder is complete or absent.
   */
  async materialize(record: ImageRecord): Promise<string> {
    const target = this.layout.imagePath(record.manifest);
    if (await exists(join(target, 'image.json'))) return target;
    const building = `${target}.${process.pid}.${randomBytes(3).toString('hex')}.tmp`;
    await mkdir(building, { recursive: true });
    try {
      for (const file of record.files) {
        if (file.name.includes('/') || file.name === '..' || file.name === '.' || file.name === '') {
          throw new OciError('INVALID_MANIFEST', `Refusing to materialize a file named ${JSON.stringify(file.name)}`);
        }
        if (file.parts && file.parts.length > 1) await this.join(file.parts, join(building, file.name), file.digest, file.size);
        else await link(this.layout.blobPath(file.parts?.[0] ?? file.digest), join(building, file.name));
      }
      await writeFileAtomic(join(building, 'image.json'), `${JSON.stringify(record, null, 2)}\n`);
      await rm(target, { recursive: true, force: true });
      await rename(building, target);
    } catch (error) {
      await rm(building, { recursive: true, force: true });
      throw error;
    }
    await this.touch(record.manifest);
    return target;
  }

  /** Concatenates verified part blobs into `target`, hashing as it goes; the result must match `digest`. */
  private async join(parts: Digest[], target: string, digest: Digest, size: number): Promise<void> {
    const hash = createHash('sha256');
    const out = await open(target, 'wx', 0o644);
    let written = 0;
    try {
      for (const part of parts) {
        for await (const chunk of createReadStream(this.layout.blobPath(part), { highWaterMark: 1 << 20 })) {
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
    await chmod(target, 0o444);
  }

  async readImageRecord(manifest: Digest): Promise<ImageRecord | undefined> {
    try {
      return JSON.parse(await readFile(join(this.layout.imagePath(manifest), 'image.json'), 'utf8')) as ImageRecord;
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
    await utimes(file, now, now).catch(() => {});
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
        const lease = JSON.parse(await readFile(path, 'utf8')) as { pid: number; digests: string[] };
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
