// Pulling an image into a host cache: resolve, pick the platform, check free space, fetch every
// missing blob through the verifying ingest, record the manifest in index.json, materialize.
//
// Space: the pre-check counts what is still to be written (missing blobs less their partial
// downloads, plus files joined from parts at materialization) against the disk's free space
// less what other pulls in this process have reserved. A disk that fills up anyway fails the
// pull with InsufficientSpaceError (partial downloads kept for a resume), and the digest is
// remembered: asked again while the disk still lacks the room, it fails before any request.
import type { HostCache, ImageRecord } from './cache/cache.ts';
import { isNoSpace } from './cache/fsutil.ts';
import { asNoSpaceError, defaultHeadroomBytes, statfsFreeSpace, type FreeSpaceProbe, type Reservation } from './cache/space.ts';
import { fetchBlobToCache, type BlobFetchOptions } from './blob-fetch.ts';
import { describeNetworkError, isTransientNetworkError } from './http/transport.ts';
import type { Digest } from './digest.ts';
import { InsufficientSpaceError, localFailure, OciError } from './errors.ts';
import { payloadFilesOf, piecesByLayer, type PayloadFile } from './image/config.ts';
import { Annotation, CiderMediaType } from './media-types.ts';
import { isIndex, type Descriptor, type ImageManifest, type Platform } from './manifest.ts';
import { hostPlatform, selectPlatform } from './platform.ts';
import { formatReference, parseReference, referenceTarget, type Reference } from './reference.ts';
import { verifiedManifest, type BlobSource, type FetchedManifest, type ManifestSource } from './source.ts';
import type { SwarmOptions } from './swarm.ts';

export interface PullProgress {
  phase: 'resolving' | 'downloading' | 'materializing' | 'done';
  /** Bytes of content already in the cache or fetched so far. */
  bytesDone: number;
  bytesTotal: number;
  /** Bytes that came over the network in this pull. */
  bytesFetched: number;
}

/** Where a pull reads from: one object that is both (a registry repository, the in-memory store), or two. */
export type PullSource = (ManifestSource & BlobSource) | { manifests: ManifestSource; blobs: BlobSource };

/** Finds the source a reference names: a RegistryClient gives the repository at the reference's registry. */
export interface PullSourceResolver {
  repositoryOf(reference: Reference): ManifestSource & BlobSource;
}

/** `source` to pull from, or `client` to find it from the reference. */
export type PullOptions = PullCommonOptions & ({ source: PullSource; client?: undefined } | { client: PullSourceResolver; source?: undefined });

export interface PullCommonOptions {
  cache: HostCache;
  reference: string | Reference;
  /** Which platform to take from a multi-platform index; the host's by default. */
  platform?: Platform;
  signal?: AbortSignal;
  onProgress?: (progress: PullProgress) => void;
  /** Link the payload into images/<hex>/ for VM creation. Default true. */
  materialize?: boolean;
  freeSpace?: FreeSpaceProbe;
  /** Bytes kept free beyond what the pull needs (default 256 MiB). */
  headroomBytes?: number;
  blobFetch?: Omit<BlobFetchOptions, 'signal' | 'onBytes' | 'swarm'>;
  /** Peers to take the image's layers from besides the source (./swarm.ts); config and manifests always come from the source. */
  swarm?: SwarmOptions;
  /** Told the platform manifest's digest and its blobs once it is known (a peer server serves them under the image's tickets). */
  onManifest?: (manifest: { digest: Digest; top: Digest; blobs: Digest[] }) => void;
}

export interface PullResult {
  /** What the reference resolved to: an index for multi-platform images, else the manifest. */
  digest: Digest;
  /** The platform manifest actually pulled. */
  manifestDigest: Digest;
  reference: string;
  /** Bytes of config and layers. */
  size: number;
  bytesFetched: number;
  imagePath?: string;
}

/**
 * The files a VM tool sees: Cider's payload files when the config lists them (a file split into
 * parts is one file, joined at materialization), else one per layer, named by its title.
 */
function filesOf(manifest: ImageManifest, payload: PayloadFile[] | undefined): ImageRecord['files'] {
  if (payload) {
    // The config is verified by its digest, but must still agree with the layers it describes.
    const layers = new Set(manifest.layers.map((l) => l.digest));
    for (const file of payload) {
      const unknown = file.parts.find((p) => !layers.has(p.digest));
      if (unknown || (file.parts.length === 1 && file.parts[0]!.digest !== file.digest)) {
        throw new OciError('INVALID_MANIFEST', `The image's config describes ${file.name} with ${unknown ? `a part (${unknown.digest}) that is not one of its layers` : 'a digest that is not its layer'}: the image was built wrong; publish it again.`);
      }
    }
    return payload.map((file) => ({
      name: file.name,
      digest: file.digest,
      size: file.size,
      mediaType: file.mediaType,
      ...(file.parts.length > 1 ? { parts: file.parts.map((p) => p.digest) } : {}),
    }));
  }
  return manifest.layers.map((layer, i) => ({
    name: layer.annotations?.[Annotation.title] ?? `layer-${i}`,
    digest: layer.digest,
    size: layer.size,
    mediaType: layer.mediaType,
  }));
}

/** Configs up to this size are read (for piece digests and image.json). */
const maxConfigBytes = 1024 * 1024;

function parseJson(bytes: Buffer, what: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new OciError('INVALID_MANIFEST', `The image's ${what} is not valid JSON`);
  }
}

function sourcesOf(options: PullOptions, ref: Reference): { manifests: ManifestSource; blobs: BlobSource } {
  const source = options.source ?? options.client.repositoryOf(ref);
  // Told apart by a method, not by a `manifests` field, which a store may well have of its own.
  return 'fetchManifest' in source ? { manifests: source, blobs: source } : source;
}

/** A manifest from the source, checked against its digest whoever sent it (./source.ts). */
async function fetchVerified(manifests: ManifestSource, reference: string): Promise<FetchedManifest> {
  return verifiedManifest(await manifests.fetchManifest(reference), reference, `manifest ${reference}`);
}

/** Pulls an image from a source into the cache. Everything it throws is an OciError, except the caller's own abort reason. */
export async function pull(options: PullOptions): Promise<PullResult> {
  try {
    return await pullImage(options);
  } catch (error) {
    // The network's failures become OciErrors where they arise (transport, blob-fetch); one that
    // slipped through is still retryable. What is left is the cache's disk.
    const what = `Pulling ${typeof options.reference === 'string' ? options.reference : formatReference(options.reference)}`;
    if (isTransientNetworkError(error)) throw new OciError('UNREACHABLE', `${what} failed: ${describeNetworkError(error)}`, { cause: error, retryable: true });
    throw localFailure(error, `${what} into ${options.cache.root}`);
  }
}

async function pullImage(options: PullOptions): Promise<PullResult> {
  const { cache, signal } = options;
  const probe = options.freeSpace ?? statfsFreeSpace;
  const headroom = options.headroomBytes ?? defaultHeadroomBytes;
  const ref = typeof options.reference === 'string' ? parseReference(options.reference) : options.reference;
  const { manifests, blobs } = sourcesOf(options, ref);
  const progress: PullProgress = { phase: 'resolving', bytesDone: 0, bytesTotal: 0, bytesFetched: 0 };
  const report = () => options.onProgress?.({ ...progress });
  report();

  // Refused for want of space, and the disk still lacks it: fail before the network.
  if (ref.digest) await cache.space.recheck(ref.digest, probe);
  const top = await fetchVerified(manifests, referenceTarget(ref));
  await cache.space.recheck(top.descriptor.digest, probe);
  let manifestDescriptor = top.descriptor;
  let manifestBytes = top.bytes;
  let manifest = top.manifest;
  if (isIndex(manifest)) {
    const chosen = selectPlatform(manifest, options.platform ?? hostPlatform());
    const child = await fetchVerified(manifests, chosen.digest);
    manifestDescriptor = { ...child.descriptor, platform: chosen.platform };
    manifestBytes = child.bytes;
    manifest = child.manifest;
    if (isIndex(manifest)) throw new OciError('INVALID_MANIFEST', `Nested indexes are not supported: ${chosen.digest}, chosen for this platform, is an index itself`);
  }
  const image = manifest as ImageManifest;
  const content: Descriptor[] = [image.config, ...image.layers];
  const size = content.reduce((sum, d) => sum + d.size, 0);
  progress.bytesTotal = size;
  options.onManifest?.({ digest: manifestDescriptor.digest, top: top.descriptor.digest, blobs: content.map((d) => d.digest) });

  const lease = await cache
    .lease([top.descriptor.digest, manifestDescriptor.digest, ...content.map((d) => d.digest)], `pull ${formatReference(ref)}`)
    .catch(async (error: unknown) => {
      throw await asNoSpaceError(error, cache.root, size + headroom, probe);
    });
  let reservation: Reservation | undefined;
  // The config, parsed once when first needed (it is in the cache by then).
  let configJson: unknown;
  const readConfig = async () => (configJson ??= parseJson(await cache.readBlob(image.config.digest), `config ${image.config.digest}`));
  let payload: PayloadFile[] | undefined;
  /** Bytes still to be written: missing blobs less their partial downloads, plus joined files. */
  const stillNeeded = async (): Promise<number> => {
    let bytes = 0;
    for (const d of new Map(content.map((c) => [c.digest, c])).values()) {
      if (!(await cache.hasBlob(d.digest))) bytes += d.size - (await cache.partialBytes(d.digest, d.size));
    }
    if (options.materialize !== false && !(await cache.readImageRecord(manifestDescriptor.digest))) {
      for (const file of payload ?? []) if (file.parts.length > 1) bytes += file.size;
    }
    return bytes;
  };
  try {
    for (const d of content) if (await cache.hasBlob(d.digest)) progress.bytesDone += d.size;
    // The config comes first: a Cider config lists piece digests that every layer after it is
    // checked against, and the files joined from parts that need room of their own.
    if (!(await cache.hasBlob(image.config.digest))) {
      await (await cache.space.reserve(cache.root, image.config.size, probe, headroom)).release();
      progress.phase = 'downloading';
      await fetchLayer(image.config, undefined);
    }
    if (image.config.mediaType === CiderMediaType.config && image.config.size <= maxConfigBytes) payload = payloadFilesOf(await readConfig());
    const piecesOf = payload ? piecesByLayer(payload) : undefined;
    reservation = await cache.space.reserve(cache.root, await stillNeeded(), probe, headroom);
    progress.phase = 'downloading';
    report();

    const seen = new Set<string>([image.config.digest]);
    for (const descriptor of image.layers) {
      if (seen.has(descriptor.digest)) continue;
      seen.add(descriptor.digest);
      if (!(await cache.hasBlob(descriptor.digest))) await fetchLayer(descriptor, piecesOf?.get(descriptor.digest));
    }

    async function fetchLayer(descriptor: Descriptor, pieces: { pieceSize: number; pieces: Digest[] } | undefined): Promise<void> {
      await fetchBlobToCache(blobs, cache, descriptor, {
        ...options.blobFetch,
        ...(options.swarm && descriptor !== image.config ? { swarm: options.swarm } : {}),
        ...(pieces ? { pieces: { size: pieces.pieceSize, digests: pieces.pieces } } : {}),
        signal,
        onBytes: (delta, fetched) => {
          progress.bytesDone += delta;
          if (fetched) {
            progress.bytesFetched += delta;
            if (delta > 0) reservation?.consume(delta);
          }
          report();
        },
      });
    }

    // Manifests last: index.json must never name content that is not all here.
    await cache.putBlob(manifestDescriptor.digest, manifestBytes);
    if (top.descriptor.digest !== manifestDescriptor.digest) await cache.putBlob(top.descriptor.digest, top.bytes);

    let imagePath: string | undefined;
    if (options.materialize !== false) {
      progress.phase = 'materializing';
      report();
      let config: unknown;
      if ((image.config.mediaType === CiderMediaType.config || image.config.mediaType.endsWith('+json')) && image.config.size <= maxConfigBytes) config = await readConfig();
      const record: ImageRecord = {
        manifest: manifestDescriptor.digest,
        mediaType: manifestDescriptor.mediaType,
        reference: formatReference(ref),
        files: filesOf(image, payload),
        size,
        pulledAt: new Date().toISOString(),
      };
      if (image.artifactType) record.artifactType = image.artifactType;
      if (config !== undefined) record.config = config;
      imagePath = await cache.materialize(record);
    }

    await cache.addToIndex(top.descriptor, { tag: ref.tag, reference: formatReference(ref) });
    cache.space.forget(top.descriptor.digest);
    progress.phase = 'done';
    report();
    return {
      digest: top.descriptor.digest,
      manifestDigest: manifestDescriptor.digest,
      reference: formatReference(ref),
      size,
      bytesFetched: progress.bytesFetched,
      imagePath,
    };
  } catch (error) {
    if (!(error instanceof InsufficientSpaceError) && !isNoSpace(error)) throw error;
    // Said with this pull's numbers (what it still needs, what the disk has), and remembered.
    reservation?.release();
    reservation = undefined;
    const needed = (await stillNeeded().catch(() => 0)) + headroom;
    const free = Math.max(0, (await probe(cache.root).catch(() => 0)) - cache.space.reservedBytes);
    cache.space.refuse({ digest: top.descriptor.digest, reference: formatReference(ref), neededBytes: needed, freeBytes: free, path: cache.root, since: new Date().toISOString() });
    throw Object.assign(new InsufficientSpaceError(needed, free, cache.root), { cause: error });
  } finally {
    reservation?.release();
    await lease.release();
  }
}
