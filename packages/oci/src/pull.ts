// Pulling an image into a host cache: resolve, pick the platform, check free space, fetch every
// missing blob through the verifying ingest, record the manifest in index.json, materialize.
import type { HostCache, ImageRecord } from './cache/cache.ts';
import { ensureSpace, type FreeSpaceProbe } from './cache/space.ts';
import { fetchBlobToCache, type BlobFetchOptions } from './blob-fetch.ts';
import type { Digest } from './digest.ts';
import { OciError } from './errors.ts';
import { payloadFilesOf, piecesByLayer, type PayloadFile } from './image/config.ts';
import { Annotation, CiderMediaType } from './media-types.ts';
import { isIndex, type Descriptor, type ImageManifest, type Platform } from './manifest.ts';
import { hostPlatform, selectPlatform } from './platform.ts';
import { formatReference, parseReference, referenceTarget, type Reference } from './reference.ts';
import type { RegistryClient } from './registry/client.ts';

export interface PullProgress {
  phase: 'resolving' | 'downloading' | 'materializing' | 'done';
  /** Bytes of content already in the cache or fetched so far. */
  bytesDone: number;
  bytesTotal: number;
  /** Bytes that came over the network in this pull. */
  bytesFetched: number;
}

export interface PullOptions {
  client: RegistryClient;
  cache: HostCache;
  reference: string | Reference;
  /** Which platform to take from a multi-platform index; the host's by default. */
  platform?: Platform;
  signal?: AbortSignal;
  onProgress?: (progress: PullProgress) => void;
  /** Link the payload into images/<hex>/ for VM creation. Default true. */
  materialize?: boolean;
  freeSpace?: FreeSpaceProbe;
  blobFetch?: Omit<BlobFetchOptions, 'signal' | 'onBytes'>;
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

export async function pull(options: PullOptions): Promise<PullResult> {
  const { client, cache, signal } = options;
  const ref = typeof options.reference === 'string' ? parseReference(options.reference) : options.reference;
  const repo = client.repositoryOf(ref);
  const progress: PullProgress = { phase: 'resolving', bytesDone: 0, bytesTotal: 0, bytesFetched: 0 };
  const report = () => options.onProgress?.({ ...progress });
  report();

  const top = await repo.fetchManifest(referenceTarget(ref));
  let manifestDescriptor = top.descriptor;
  let manifestBytes = top.bytes;
  let manifest = top.manifest;
  if (isIndex(manifest)) {
    const chosen = selectPlatform(manifest, options.platform ?? hostPlatform());
    const child = await repo.fetchManifest(chosen.digest);
    manifestDescriptor = { ...child.descriptor, platform: chosen.platform };
    manifestBytes = child.bytes;
    manifest = child.manifest;
    if (isIndex(manifest)) throw new Error(`Nested indexes are not supported (${chosen.digest})`);
  }
  const image = manifest as ImageManifest;
  const content: Descriptor[] = [image.config, ...image.layers];
  const size = content.reduce((sum, d) => sum + d.size, 0);
  progress.bytesTotal = size;

  const lease = await cache.lease(
    [top.descriptor.digest, manifestDescriptor.digest, ...content.map((d) => d.digest)],
    `pull ${formatReference(ref)}`,
  );
  try {
    let missing = 0;
    for (const d of content) {
      if (await cache.hasBlob(d.digest)) progress.bytesDone += d.size;
      else missing += d.size;
    }
    await ensureSpace(cache.root, missing, options.freeSpace);
    progress.phase = 'downloading';
    report();

    // The config, parsed once when first needed (it is in the cache by then).
    let configJson: unknown;
    const readConfig = async () => (configJson ??= parseJson(await cache.readBlob(image.config.digest), `config ${image.config.digest}`));

    const seen = new Set<string>();
    let payload: PayloadFile[] | undefined;
    let piecesOf: ReturnType<typeof piecesByLayer> | undefined;
    for (const descriptor of content) {
      if (!seen.has(descriptor.digest)) {
        seen.add(descriptor.digest);
        if (!(await cache.hasBlob(descriptor.digest))) await fetchLayer(descriptor, piecesOf?.get(descriptor.digest));
      }
      // The config comes first: Cider's lists piece digests that every layer after it is checked against.
      if (descriptor === image.config && image.config.mediaType === CiderMediaType.config && image.config.size <= maxConfigBytes) {
        payload = payloadFilesOf(await readConfig());
        if (payload) piecesOf = piecesByLayer(payload);
      }
    }

    async function fetchLayer(descriptor: Descriptor, pieces: { pieceSize: number; pieces: Digest[] } | undefined): Promise<void> {
      await fetchBlobToCache(repo, cache, descriptor, {
        ...options.blobFetch,
        ...(pieces ? { pieces: { size: pieces.pieceSize, digests: pieces.pieces } } : {}),
        signal,
        onBytes: (delta, fetched) => {
          progress.bytesDone += delta;
          if (fetched) progress.bytesFetched += delta;
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
  } finally {
    await lease.release();
  }
}
