// verifyBundle: is this bundle whole and untampered? Every blob in the tar is hashed again and
// compared with the digest it is filed under; every descriptor reachable from index.json must be
// there with the size it states. Problems are collected, not thrown, so one run names every bad
// or missing blob (with its digest and why); only a file that is not a readable tar at all stops
// it early, as one problem.
import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { parseDigest, type Digest } from '../digest.ts';
import { OciError } from '../errors.ts';
import { Annotation } from '../media-types.ts';
import { openBundle, type BundleArchive, type BundleProblem } from './archive.ts';
import type { TarIndexEntry } from './tar-index.ts';
import type { BundleProgress, VerifyBundleResult } from './types.ts';

export interface VerifyBundleOptions {
  onProgress?: (progress: BundleProgress) => void;
  signal?: AbortSignal;
}

/** Bytes read at a time; one buffer serves every read, so hashing a 17 GB blob makes no garbage. */
const readBytes = 1024 * 1024;

/** The digest of a blob entry's bytes as they are in the tar. */
async function hashEntry(handle: FileHandle, buffer: Buffer, entry: TarIndexEntry, algorithm: string, signal: AbortSignal | undefined, onBytes: (n: number) => void): Promise<string> {
  const hash = createHash(algorithm);
  for (let done = 0; done < entry.size; ) {
    signal?.throwIfAborted();
    const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, entry.size - done), entry.offset + done);
    if (bytesRead === 0) throw new OciError('INVALID_BUNDLE', `The bundle ended inside blob entry ${entry.name} (it changed while being read?)`);
    hash.update(buffer.subarray(0, bytesRead));
    done += bytesRead;
    onBytes(bytesRead);
  }
  return `${algorithm}:${hash.digest('hex')}`;
}

export async function verifyBundle(path: string, options: VerifyBundleOptions = {}): Promise<VerifyBundleResult> {
  let archive: BundleArchive;
  try {
    archive = await openBundle(path);
  } catch (error) {
    if (!(error instanceof OciError) || error.code === 'NOT_FOUND' || error.code === 'CACHE_IO') throw error;
    return { ok: false, images: [], blobs: 0, bytes: 0, problems: [{ reason: error.message }] };
  }
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.allocUnsafe(readBytes);
    const problems: BundleProblem[] = [...archive.problems];
    const mismatched = new Set(problems.filter((p) => p.digest && p.reason.startsWith('does not match')).map((p) => p.digest));
    const bytes = [...archive.blobs.values()].reduce((sum, entry) => sum + entry.size, 0);
    let done = 0;
    let sinceReport = 0;
    for (const [digest, entry] of archive.blobs) {
      options.signal?.throwIfAborted();
      const actual = await hashEntry(handle, buffer, entry, parseDigest(digest).algorithm, options.signal, (n) => {
        done += n;
        sinceReport += n;
        if (sinceReport >= 4 * 1024 * 1024) {
          sinceReport = 0;
          options.onProgress?.({ bytesDone: done, bytesTotal: bytes, digest: digest as Digest });
        }
      });
      if (actual !== digest && !mismatched.has(digest)) problems.push({ digest, reason: `does not match its digest: its ${entry.size} bytes hash to ${actual} (damaged or tampered with)` });
    }
    options.onProgress?.({ bytesDone: done, bytesTotal: bytes });
    const images = (archive.index?.manifests ?? []).flatMap((d) => {
      const refName = d.annotations?.[Annotation.refName];
      return refName === undefined ? [] : [{ refName, digest: d.digest }];
    });
    return { ok: problems.length === 0, images, blobs: archive.blobs.size, bytes, problems };
  } finally {
    await handle.close();
    await archive.close();
  }
}
