// Cache maintenance: fsck re-hashes everything and quarantines what is bad; prune removes what
// nothing references, never what a running operation has leased.
import { createHash } from 'node:crypto';
import { lstat, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isDigest, type Digest } from '../digest.ts';
import { isIndex, parseManifest, type Descriptor } from '../manifest.ts';
import type { HostCache, ImageRecord } from './cache.ts';
import { openNoFollow, readFileNoFollow } from './fsutil.ts';
import { acquireLock, lockHeld } from './lock.ts';

export interface FsckProblem {
  digest?: string;
  path: string;
  problem: string;
}

export interface FsckReport {
  blobsChecked: number;
  bytesChecked: number;
  /** Blobs whose content did not match their name, moved to quarantine/. */
  quarantined: FsckProblem[];
  /** Content index.json (or an image) refers to that is not in the cache. */
  missing: FsckProblem[];
  /** Materialized images that are incomplete or no longer share their blob's inode. */
  brokenImages: FsckProblem[];
  ok: boolean;
}

async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  const handle = await openNoFollow(path);
  for await (const chunk of handle.createReadStream({ highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

async function blobDigests(cache: HostCache): Promise<Digest[]> {
  const names = await readdir(join(cache.layout.blobsDir, 'sha256')).catch(() => [] as string[]);
  return names.map((n) => `sha256:${n}`).filter((d): d is Digest => isDigest(d));
}

/** Everything reachable from index.json: manifests, indexes, configs, layers (present ones). */
export async function referencedDigests(cache: HostCache, missing: FsckProblem[] = []): Promise<Set<string>> {
  const referenced = new Set<string>();
  const visit = async (descriptor: Descriptor, from: string): Promise<void> => {
    if (referenced.has(descriptor.digest)) return;
    referenced.add(descriptor.digest);
    if (!(await cache.hasBlob(descriptor.digest))) {
      // An index's other platforms are legitimately absent; a pulled manifest's content is not.
      if (!from.startsWith('index ')) missing.push({ digest: descriptor.digest, path: cache.blobPath(descriptor.digest), problem: `referenced by ${from} but not in the cache` });
      return;
    }
    if (descriptor.size > 4 * 1024 * 1024 || !/json/.test(descriptor.mediaType) || descriptor.mediaType.includes('config')) return;
    let manifest;
    try {
      manifest = parseManifest(await readFileNoFollow(cache.blobPath(descriptor.digest)), descriptor.mediaType);
    } catch {
      return;
    }
    if (isIndex(manifest)) {
      for (const child of manifest.manifests) await visit(child, `index ${descriptor.digest}`);
    } else {
      for (const d of [manifest.config, ...manifest.layers]) await visit(d, `manifest ${descriptor.digest}`);
    }
  };
  for (const entry of (await cache.readIndex()).manifests) await visit(entry, 'index.json');
  return referenced;
}

/**
 * Re-hashes every blob. A blob whose content does not match its name goes to quarantine/
 * (kept for inspection, never served); index.json entries and materialized images are checked
 * for what they need.
 */
export async function fsck(cache: HostCache, options: { onBlob?: (digest: string, size: number) => void } = {}): Promise<FsckReport> {
  const report: FsckReport = { blobsChecked: 0, bytesChecked: 0, quarantined: [], missing: [], brokenImages: [], ok: true };
  for (const digest of await blobDigests(cache)) {
    const path = cache.blobPath(digest);
    const info = await lstat(path);
    // A link planted where a blob goes is never read through: it goes to quarantine as it is.
    const actual = info.isFile() ? await hashFile(path) : info.isSymbolicLink() ? 'a symbolic link' : 'not a regular file';
    report.blobsChecked++;
    report.bytesChecked += info.size;
    options.onBlob?.(digest, info.size);
    if (actual !== digest) {
      await mkdir(cache.layout.quarantineDir, { recursive: true });
      const target = join(cache.layout.quarantineDir, `${digest.slice(7)}.${Date.now()}`);
      await rename(path, target);
      report.quarantined.push({ digest, path: target, problem: actual.startsWith('sha256:') ? `content hashes to ${actual}` : `it is ${actual}` });
    }
  }
  await referencedDigests(cache, report.missing);
  for (const name of await readdir(cache.layout.imagesDir).catch(() => [] as string[])) {
    if (name.endsWith('.tmp')) continue;
    const dir = join(cache.layout.imagesDir, name);
    const record = await readFileNoFollow(join(dir, 'image.json'), 'utf8').then((t) => JSON.parse(t) as Partial<Pick<ImageRecord, 'files'>>, () => undefined);
    if (!record?.files) {
      report.brokenImages.push({ path: dir, problem: 'image.json is missing or unreadable' });
      continue;
    }
    for (const file of record.files) {
      if ((file.parts && file.parts.length > 1) || file.placement === 'clone') {
        // Joined from parts, or a clone: a file of its own, so it is re-hashed like a blob.
        const actual = await hashFile(join(dir, file.name)).catch(() => undefined);
        if (actual !== file.digest) report.brokenImages.push({ digest: file.digest as Digest, path: join(dir, file.name), problem: actual ? `content hashes to ${actual}` : `the ${file.placement === 'clone' ? 'cloned' : 'joined'} file is missing` });
        continue;
      }
      const [linked, blob] = await Promise.all([stat(join(dir, file.name)).catch(() => undefined), stat(cache.blobPath(file.digest)).catch(() => undefined)]);
      if (!linked || !blob || linked.ino !== blob.ino) {
        report.brokenImages.push({ digest: file.digest, path: join(dir, file.name), problem: !blob ? 'its blob is gone' : 'not a link to its verified blob' });
      }
    }
  }
  report.ok = report.quarantined.length === 0 && report.missing.length === 0 && report.brokenImages.length === 0;
  return report;
}

export interface PruneReport {
  removedBlobs: { digest: string; size: number }[];
  removedImages: string[];
  removedIngests: string[];
  freedBytes: number;
}

/**
 * Removes blobs and materialized images that index.json does not reference, and partial
 * downloads nobody is working on. Content leased by a running pull, and ingests whose lock a
 * live process holds, are left alone. With `dryRun`, only reports.
 */
export async function prune(cache: HostCache, options: { dryRun?: boolean; keepIngestNewerThanMs?: number } = {}): Promise<PruneReport> {
  const lock = await acquireLock(join(cache.layout.locksDir, 'prune.lock'), 'cache prune');
  try {
    const report: PruneReport = { removedBlobs: [], removedImages: [], removedIngests: [], freedBytes: 0 };
    const keep = await referencedDigests(cache);
    for (const leased of await cache.leasedDigests()) keep.add(leased);
    // Materialized images first: their hard links would otherwise keep the blobs' space in use.
    for (const name of await readdir(cache.layout.imagesDir).catch(() => [] as string[])) {
      const digest = `sha256:${name.replace(/\..*$/, '')}`;
      if (!name.endsWith('.tmp') && keep.has(digest)) continue;
      if (name.endsWith('.tmp') && (await stat(join(cache.layout.imagesDir, name))).mtimeMs > Date.now() - 3_600_000) continue;
      report.removedImages.push(name);
      if (!options.dryRun) await rm(join(cache.layout.imagesDir, name), { recursive: true, force: true });
    }
    for (const digest of await blobDigests(cache)) {
      if (keep.has(digest)) continue;
      const info = await stat(cache.blobPath(digest)).catch(() => undefined);
      if (!info) continue;
      report.removedBlobs.push({ digest, size: info.size });
      // Space comes back with the last link; in a dry run the images' links are still there.
      report.freedBytes += info.nlink > 1 && !options.dryRun ? 0 : info.size;
      if (!options.dryRun) await rm(cache.blobPath(digest), { force: true });
    }
    const keepNewer = options.keepIngestNewerThanMs ?? 0;
    for (const name of await readdir(cache.layout.ingestDir).catch(() => [] as string[])) {
      const dir = join(cache.layout.ingestDir, name);
      if (await lockHeld(join(dir, 'lock'))) continue;
      if (keep.has(`sha256:${name}`)) continue;
      const info = await stat(dir).catch(() => undefined);
      if (!info || info.mtimeMs > Date.now() - keepNewer) continue;
      const data = await stat(join(dir, 'data')).catch(() => undefined);
      report.removedIngests.push(name);
      report.freedBytes += data?.blocks ? data.blocks * 512 : 0;
      if (!options.dryRun) await rm(dir, { recursive: true, force: true });
    }
    return report;
  } finally {
    await lock.release();
  }
}
