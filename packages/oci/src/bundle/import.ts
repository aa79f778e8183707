// importBundle: every image of a bundle pushed to `<registry>[/prefix]`, in the order that keeps
// the registry consistent at every moment: blobs, then manifests by digest (children before the
// indexes naming them), then tags, then referrers (whose subjects are there by then).
//
// Each blob is read from the tar once, straight into its upload, and checked against its digest
// on the way (./verify-stream.ts): a bad one cancels its upload and is named; the registry never
// receives all of its bytes. A blob the registry already has in the target repository is skipped
// (HEAD), and one it holds in another repository of this import is mounted there, not sent: so a
// blob shared by two images goes over the wire once, and an import run again after a kill sends
// none of the blobs it had finished.
import { pipeline } from 'node:stream';
import type { Digest } from '../digest.ts';
import { OciError } from '../errors.ts';
import type { Repository } from '../registry/repository.ts';
import { describeProblems, openBundle, type ArchiveManifest, type BundleArchive } from './archive.ts';
import { placeImages, parseTarget } from './placement.ts';
import type { ImportBundleOptions, ImportBundleResult } from './types.ts';
import { VerifyingStream } from './verify-stream.ts';

/**
 * Bytes per PATCH of a blob over 64 MiB; two are held in memory at once. Measured on a 1 GiB import
 * (the built CLI): 8 MiB peaks at 101 MB RSS but takes 10 s, 16 MiB 113 MB in 6.7 s, 32 MiB 144 MB.
 */
const uploadChunkBytes = 16 * 1024 * 1024;

/** The manifests and blobs a manifest reaches, itself included. */
function closure(archive: BundleArchive, root: Digest): { manifests: Set<Digest>; blobs: Set<Digest> } {
  const manifests = new Set<Digest>();
  const blobs = new Set<Digest>();
  const stack = [root];
  while (stack.length > 0) {
    const digest = stack.pop()!;
    const node = archive.manifests.get(digest);
    if (!node) {
      blobs.add(digest);
      continue;
    }
    if (manifests.has(digest)) continue;
    manifests.add(digest);
    stack.push(...node.children);
  }
  return { manifests, blobs };
}

function mediaTypeOf(node: ArchiveManifest): string {
  return node.manifest.mediaType ?? node.descriptor.mediaType;
}

export async function importBundle(options: ImportBundleOptions): Promise<ImportBundleResult> {
  const { client, signal } = options;
  const target = parseTarget(options.target);
  const archive = await openBundle(options.path);
  try {
    if (archive.problems.length > 0) throw new OciError('INVALID_BUNDLE', `${options.path} cannot be imported: ${describeProblems(archive.problems)}.`);
    const placement = placeImages(archive, target);
    const repos = new Map<string, Repository>();
    const repo = (name: string): Repository => {
      let found = repos.get(name);
      if (!found) repos.set(name, (found = client.repository(target.registry, name)));
      return found;
    };

    // Which repositories need which blobs and manifests.
    const blobRepos = new Map<Digest, string[]>();
    const manifestRepos = new Map<Digest, Set<string>>();
    const need = (root: Digest, repository: string, except?: Digest) => {
      const reach = closure(archive, root);
      for (const digest of reach.blobs) {
        const list = blobRepos.get(digest) ?? [];
        if (!list.includes(repository)) list.push(repository);
        blobRepos.set(digest, list);
      }
      for (const digest of reach.manifests) {
        if (digest === except) continue;
        const set = manifestRepos.get(digest) ?? new Set<string>();
        set.add(repository);
        manifestRepos.set(digest, set);
      }
    };
    for (const image of placement.images) need(image.digest, image.repository);
    for (const referrer of placement.referrers) need(referrer.digest, referrer.repository, referrer.digest);

    const result: ImportBundleResult = { images: [], uploaded: 0, skipped: 0, mounted: 0, bytesUploaded: 0 };
    const bytesTotal = [...blobRepos.keys()].reduce((sum, digest) => sum + archive.blobs.get(digest)!.size, 0);
    let bytesDone = 0;
    const report = (current: number, digest?: Digest) =>
      options.onProgress?.({ bytesDone: bytesDone + current, bytesTotal, skipped: result.skipped, mounted: result.mounted, ...(digest ? { digest } : {}) });

    // 1. Blobs: skipped where present, mounted from a repository that holds them, else uploaded once.
    for (const [digest, repositories] of blobRepos) {
      signal?.throwIfAborted();
      const entry = archive.blobs.get(digest)!;
      const holders: string[] = [];
      const missing: string[] = [];
      for (const name of repositories) {
        if (await repo(name).blobExists(digest)) {
          holders.push(name);
          result.skipped++;
        } else missing.push(name);
      }
      for (const name of missing) {
        const what = `blob ${digest} in ${options.path}`;
        let failure: OciError | undefined;
        const stop = new AbortController();
        const open = () => {
          const check = new VerifyingStream(digest, entry.size, what, (error) => {
            failure = error;
            stop.abort(error);
          });
          pipeline(archive.stream(entry), check, () => {});
          return check;
        };
        try {
          const pushed = await repo(name).pushBlob(
            { digest, size: entry.size, open },
            { mountFrom: holders, chunkSize: uploadChunkBytes, signal: signal ? AbortSignal.any([signal, stop.signal]) : stop.signal, onProgress: (n) => report(n, digest) },
          );
          if (pushed.mountedFrom) result.mounted++;
          else if (pushed.uploaded) {
            result.uploaded++;
            result.bytesUploaded += entry.size;
          } else result.skipped++;
        } catch (error) {
          if (failure) throw failure;
          signal?.throwIfAborted();
          throw error;
        }
        holders.push(name);
      }
      bytesDone += entry.size;
      report(0, digest);
    }

    // 2. Manifests by digest, children first (the archive lists them so).
    for (const [digest, node] of archive.manifests) {
      for (const name of manifestRepos.get(digest) ?? []) await repo(name).pushManifest(node.bytes, mediaTypeOf(node), digest);
    }

    // 3. Tags.
    for (const image of placement.images) {
      const node = archive.manifests.get(image.digest)!;
      if (image.tag) await repo(image.repository).pushManifest(node.bytes, mediaTypeOf(node), image.tag);
      const reference = `${target.registry}/${image.repository}${image.tag ? `:${image.tag}` : `@${image.digest}`}`;
      result.images.push({ refName: image.refName, reference, digest: image.digest });
    }

    // 4. Referrers, each after its subject (placement orders them so).
    for (const referrer of placement.referrers) {
      const node = archive.manifests.get(referrer.digest)!;
      await repo(referrer.repository).pushReferrer(node.bytes, mediaTypeOf(node), { digest: referrer.subject });
    }
    return result;
  } finally {
    await archive.close();
  }
}
