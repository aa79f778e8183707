// A bundle file opened for reading (image-spec image-layout.md, inside a tar): its table of
// contents from the tar headers (./tar-index.ts), its `oci-layout` and `index.json`, and every
// manifest reachable from index.json read and checked against its digest. import and verify
// share this; import stops at the first problem listed, verify reports them all.
//
// Only exact layout names are used: `oci-layout`, `index.json`, `blobs/<algorithm>/<encoded>`
// with a valid digest. Any other name is ignored (skopeo adds directory entries), and a name
// that would climb out of the layout when extracted is reported, though nothing is extracted.
import { createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { isDigest, sha256, type Digest } from '../digest.ts';
import { OciError } from '../errors.ts';
import { isIndex, parseManifest, type Descriptor, type ImageIndex, type Manifest } from '../manifest.ts';
import { indexTar, readEntry, type TarIndexEntry, type TarIndexLimits } from './tar-index.ts';

/** index.json larger than this is refused. */
export const maxIndexBytes = 4 * 1024 * 1024;
/** Manifests (and indexes) larger than this are refused, as a registry client refuses them. */
export const maxManifestBytes = 4 * 1024 * 1024;
/** Manifests reachable from index.json, at most. */
const maxManifests = 10_000;
/** Index entries in index.json, at most. */
const maxIndexEntries = 10_000;
/** Indexes nested in indexes, at most (image-spec sets no limit; real images use one level). */
const maxDepth = 8;

export interface BundleProblem {
  digest?: string;
  entry?: string;
  reason: string;
}

export interface ArchiveManifest {
  descriptor: Descriptor;
  bytes: Buffer;
  manifest: Manifest;
  /** Manifests it names (an index's entries), then config and layers' digests. */
  children: Digest[];
}

export interface BundleArchive {
  path: string;
  size: number;
  /** Blob entries by digest. */
  blobs: Map<Digest, TarIndexEntry>;
  /** index.json, parsed (undefined when it is missing or invalid: see `problems`). */
  index?: ImageIndex;
  /** Manifests reachable from index.json, children before the manifests naming them. */
  manifests: Map<Digest, ArchiveManifest>;
  /** Configs and layers reachable from index.json, by digest. */
  contents: Map<Digest, Descriptor>;
  problems: BundleProblem[];
  /**
   * The bytes of a blob entry, from its start, in 64 KiB chunks: small chunks die before the
   * collector promotes them, which kept a 1 GiB import's peak RSS at 113 MB instead of 124-143 MB
   * with 1 MiB chunks (same speed).
   */
  stream(entry: TarIndexEntry, signal?: AbortSignal): Readable;
  close(): Promise<void>;
}

/** A name that would leave the layout directory if someone extracted the tar. */
function climbsOut(name: string): boolean {
  return name.startsWith('/') || name.split('/').includes('..');
}

async function readLayout(handle: FileHandle, entries: TarIndexEntry[], problems: BundleProblem[], blobs: Map<Digest, TarIndexEntry>): Promise<ImageIndex | undefined> {
  const named = new Map<string, TarIndexEntry>();
  for (const entry of entries) {
    if (climbsOut(entry.name)) {
      problems.push({ entry: entry.name.slice(0, 200), reason: 'a name outside the layout (ignored; nothing is extracted)' });
      continue;
    }
    if (entry.type === 'directory') continue;
    if (named.has(entry.name)) {
      problems.push({ entry: entry.name, reason: 'appears twice in the tar: which copy is meant is ambiguous' });
      continue;
    }
    named.set(entry.name, entry);
    const blob = /^blobs\/([a-z0-9]+)\/([a-zA-Z0-9=_-]+)$/.exec(entry.name);
    if (!blob) continue;
    const digest = `${blob[1]}:${blob[2]}`;
    if (!isDigest(digest) || entry.type !== 'file') {
      problems.push({ entry: entry.name, reason: entry.type === 'file' ? 'not a valid digest name (ignored)' : 'not a regular file (ignored)' });
      continue;
    }
    blobs.set(digest as Digest, entry);
  }

  const layout = named.get('oci-layout');
  if (!layout) problems.push({ entry: 'oci-layout', reason: 'missing: this tar is not an OCI image layout' });
  else {
    const text = (await readEntry(handle, layout, 4096, 'oci-layout')).toString('utf8');
    let version: unknown;
    try {
      version = (JSON.parse(text) as { imageLayoutVersion?: unknown }).imageLayoutVersion;
    } catch {
      version = undefined;
    }
    if (typeof version !== 'string' || !/^1\.\d+\.\d+$/.test(version)) problems.push({ entry: 'oci-layout', reason: `imageLayoutVersion ${JSON.stringify(version)} is not 1.x.x` });
  }

  const indexEntry = named.get('index.json');
  if (!indexEntry) {
    problems.push({ entry: 'index.json', reason: 'missing: the bundle lists no images' });
    return undefined;
  }
  try {
    const bytes = await readEntry(handle, indexEntry, maxIndexBytes, 'index.json');
    const index = parseManifest(bytes);
    if (!isIndex(index)) throw new OciError('INVALID_MANIFEST', 'it is a manifest, not an image index');
    if (index.manifests.length > maxIndexEntries) throw new OciError('INVALID_MANIFEST', `${index.manifests.length} entries (at most ${maxIndexEntries})`);
    return index;
  } catch (error) {
    problems.push({ entry: 'index.json', reason: error instanceof Error ? error.message : String(error) });
    return undefined;
  }
}

/** Reads and checks every manifest reachable from index.json (depth first, children recorded first). */
async function walk(handle: FileHandle, archive: BundleArchive): Promise<void> {
  const { blobs, manifests, contents, problems } = archive;
  const visiting = new Set<Digest>();
  const failed = new Set<Digest>();
  /** Blobs already reported missing or mis-sized: named once, however many manifests share them. */
  const reported = new Set<Digest>();
  const present = (descriptor: Descriptor, where: string): TarIndexEntry | undefined => {
    const entry = blobs.get(descriptor.digest);
    if (reported.has(descriptor.digest)) return undefined;
    if (!entry || entry.size !== descriptor.size) reported.add(descriptor.digest);
    if (!entry) problems.push({ digest: descriptor.digest, reason: `missing (named by ${where})` });
    else if (entry.size !== descriptor.size) problems.push({ digest: descriptor.digest, reason: `${entry.size} bytes in the tar, but ${where} says ${descriptor.size}` });
    else return entry;
    return undefined;
  };
  const visit = async (descriptor: Descriptor, where: string, depth: number): Promise<void> => {
    const digest = descriptor.digest;
    if (manifests.has(digest) || visiting.has(digest) || failed.has(digest)) return;
    if (manifests.size >= maxManifests) throw new OciError('INVALID_BUNDLE', `${archive.path} names more than ${maxManifests} manifests; refusing to read more.`);
    if (depth > maxDepth) {
      problems.push({ digest, reason: `indexes nested more than ${maxDepth} deep (named by ${where})` });
      return;
    }
    const entry = present(descriptor, where);
    if (!entry) {
      failed.add(digest);
      return;
    }
    visiting.add(digest);
    try {
      const bytes = await readEntry(handle, entry, maxManifestBytes, `manifest ${digest}`);
      const actual = sha256(bytes);
      if (digest.startsWith('sha256:') && actual !== digest) throw new OciError('DIGEST_MISMATCH', `does not match its digest: the manifest hashes to ${actual}`);
      const manifest = parseManifest(bytes, descriptor.mediaType);
      const children: Digest[] = [];
      if (isIndex(manifest)) {
        for (const child of manifest.manifests) {
          await visit(child, `index ${digest}`, depth + 1);
          children.push(child.digest);
        }
      } else {
        for (const blob of [manifest.config, ...manifest.layers]) {
          if (!contents.has(blob.digest) && present(blob, `manifest ${digest}`)) contents.set(blob.digest, blob);
          children.push(blob.digest);
        }
      }
      manifests.set(digest, { descriptor, bytes, manifest, children });
    } catch (error) {
      failed.add(digest);
      problems.push({ digest, reason: error instanceof Error ? error.message.replace(/^Invalid manifest: /, 'not a valid manifest: ') : String(error) });
    } finally {
      visiting.delete(digest);
    }
  };
  for (const [i, descriptor] of (archive.index?.manifests ?? []).entries()) await visit(descriptor, `index.json entry ${i}`, 0);
}

/** Opens a bundle and reads its plan: tar headers, layout files, manifests. Throws only when the file is not a readable tar. */
export async function openBundle(path: string, limits: TarIndexLimits = {}): Promise<BundleArchive> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    const code = (error as { code?: string }).code;
    throw new OciError(code === 'ENOENT' ? 'NOT_FOUND' : 'CACHE_IO', code === 'ENOENT' ? `Bundle ${path} does not exist.` : `Cannot open bundle ${path}: ${(error as Error).message}`, { cause: error });
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new OciError('INVALID_BUNDLE', `${path} is not a file.`);
    const entries = await indexTar(handle, info.size, path, limits);
    const archive: BundleArchive = {
      path,
      size: info.size,
      blobs: new Map(),
      manifests: new Map(),
      contents: new Map(),
      problems: [],
      stream: (entry, signal) =>
        entry.size === 0 ? Readable.from([]) : createReadStream(path, { start: entry.offset, end: entry.offset + entry.size - 1, highWaterMark: 64 * 1024, signal }),
      close: () => handle.close(),
    };
    archive.index = await readLayout(handle, entries, archive.problems, archive.blobs);
    await walk(handle, archive);
    return archive;
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** The problems as one message, for an error: the first few, and how many more. */
export function describeProblems(problems: BundleProblem[], shown = 5): string {
  const lines = problems.slice(0, shown).map((p) => `${p.digest ?? p.entry ?? 'bundle'}: ${p.reason}`);
  if (problems.length > shown) lines.push(`and ${problems.length - shown} more (cider bundle verify lists them all)`);
  return lines.join('; ');
}
