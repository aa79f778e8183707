// One tag for several platforms: an OCI image index whose entries carry each image's platform,
// read from the image's own config (Cider's `platform`, or an OCI config's os/architecture).
// Images from other repositories of the same registry are mounted in (no bytes re-sent).
import { sha256, type Digest } from '../digest.ts';
import { DigestMismatchError, NotFoundError, OciError } from '../errors.ts';
import { encodeManifest, isIndex, type Descriptor, type ImageIndex, type ImageManifest, type Platform } from '../manifest.ts';
import { Annotation, CiderMediaType, MediaType } from '../media-types.ts';
import { formatPlatform } from '../platform.ts';
import { formatReference, parseReference, referenceTarget, type Reference } from '../reference.ts';
import type { RegistryClient } from '../registry/client.ts';
import type { Repository } from '../registry/repository.ts';
import { assertTagsFree } from './publish.ts';

const maxConfigBytes = 1024 * 1024;

/** Reads a small blob whole and checks it against its digest. */
export async function fetchSmallBlob(repo: Repository, descriptor: Descriptor, limit = maxConfigBytes): Promise<Buffer> {
  if (descriptor.data !== undefined) {
    const inline = Buffer.from(descriptor.data, 'base64');
    if (sha256(inline) === descriptor.digest) return inline;
  }
  if (descriptor.size > limit) throw new OciError('INVALID_MANIFEST', `Blob ${descriptor.digest} is ${descriptor.size} bytes; only ${limit} are read here`);
  const response = await repo.fetchBlob(descriptor.digest);
  const bytes = await response.body.buffer(limit).catch((error: unknown) => {
    if ((error as { code?: string }).code === 'EBODYTOOLARGE') throw new OciError('INVALID_MANIFEST', `Blob ${descriptor.digest} is larger than its descriptor says`);
    throw error;
  });
  const actual = sha256(bytes);
  if (actual !== descriptor.digest) throw new DigestMismatchError(descriptor.digest, actual, `blob of ${repo.name}`);
  return bytes;
}

/** The platform an image says it is for, from its config. */
export async function platformOfImage(repo: Repository, manifest: ImageManifest): Promise<Platform | undefined> {
  const config = manifest.config;
  const readable = config.mediaType === CiderMediaType.config || config.mediaType === MediaType.ociConfig || config.mediaType === 'application/vnd.docker.container.image.v1+json';
  if (!readable || config.size > maxConfigBytes) return undefined;
  const json = JSON.parse((await fetchSmallBlob(repo, config)).toString('utf8')) as Record<string, unknown>;
  const platform = (config.mediaType === CiderMediaType.config ? json.platform : json) as Record<string, unknown> | undefined;
  if (typeof platform?.os !== 'string' || typeof platform.architecture !== 'string') return undefined;
  return {
    os: platform.os,
    architecture: platform.architecture,
    ...(typeof platform.variant === 'string' ? { variant: platform.variant } : {}),
    ...(typeof platform['os.version'] === 'string' ? { 'os.version': platform['os.version'] } : {}),
  };
}

export interface PushIndexOptions {
  client: RegistryClient;
  /** Where the index goes: `registry/repo:tag`. */
  reference: string | Reference;
  /** The per-platform images: references on the same registry, or bare digests in the target repository. */
  images: string[];
  immutableTags?: boolean;
  annotations?: Record<string, string>;
}

export interface PushIndexResult {
  digest: Digest;
  index: ImageIndex;
  reference: string;
}

export async function pushIndex(options: PushIndexOptions): Promise<PushIndexResult> {
  const target = typeof options.reference === 'string' ? parseReference(options.reference) : options.reference;
  if (target.digest || !target.tag) throw new OciError('INVALID_REFERENCE', `Give the index a tag: ${formatReference(target)}`);
  if (options.images.length === 0) throw new OciError('INVALID_IMAGE', 'An index needs at least one image');
  const repo = options.client.repositoryOf(target);
  if (options.immutableTags) await assertTagsFree(repo, [target.tag]);

  const entries: Descriptor[] = [];
  const seen = new Map<string, string>();
  for (const input of options.images) {
    const source: Reference = /^sha256:[0-9a-f]{64}$/.test(input) ? { ...target, tag: undefined, digest: input as Digest } : parseReference(input);
    if (source.registry !== target.registry) {
      throw new OciError('INVALID_REFERENCE', `${input} is on ${source.registry}, the index on ${target.registry}: an index can only name images of its own registry. Copy the image first.`);
    }
    const sourceRepo = options.client.repositoryOf(source);
    let fetched;
    try {
      fetched = await sourceRepo.fetchManifest(referenceTarget(source));
    } catch (error) {
      if (error instanceof NotFoundError) throw new OciError('NOT_FOUND', `Image ${formatReference(source)} was not found: push each platform's image first`);
      throw error;
    }
    if (isIndex(fetched.manifest)) throw new OciError('INVALID_IMAGE', `${formatReference(source)} is already an index: name its platform images instead`);
    const manifest = fetched.manifest;
    const platform = await platformOfImage(sourceRepo, manifest);
    if (!platform) throw new OciError('INVALID_IMAGE', `Cannot tell which platform ${formatReference(source)} is for: its config names none. Push it with --platform os/arch.`);
    const key = formatPlatform(platform);
    const clash = seen.get(key);
    if (clash) throw new OciError('INVALID_IMAGE', `${formatReference(source)} and ${clash} are both for ${key}: an index holds one image per platform`);
    seen.set(key, formatReference(source));
    if (source.repository !== target.repository) {
      // The index may only name manifests of its own repository: mount the content, then the manifest.
      for (const blob of [manifest.config, ...manifest.layers]) {
        if (await repo.blobExists(blob.digest)) continue;
        if (!(await repo.mountBlob(blob.digest, source.repository))) {
          throw new OciError('REGISTRY_ERROR', `Registry ${target.registry} would not mount ${blob.digest} from ${source.repository} into ${target.repository}; copy the image into ${target.repository} first`, { retryable: false });
        }
      }
      await repo.pushManifest(fetched.bytes, fetched.descriptor.mediaType, fetched.descriptor.digest);
    }
    entries.push({
      mediaType: fetched.descriptor.mediaType,
      digest: fetched.descriptor.digest,
      size: fetched.descriptor.size,
      ...(manifest.artifactType ? { artifactType: manifest.artifactType } : {}),
      platform,
    });
  }
  const artifactTypes = new Set(entries.map((e) => e.artifactType));
  const index: ImageIndex = {
    schemaVersion: 2,
    mediaType: MediaType.ociIndex,
    ...(artifactTypes.size === 1 && entries[0]!.artifactType ? { artifactType: entries[0]!.artifactType } : {}),
    manifests: entries,
    annotations: { [Annotation.created]: new Date().toISOString(), ...options.annotations },
  };
  const encoded = encodeManifest(index);
  if (options.immutableTags) await assertTagsFree(repo, [target.tag]);
  await repo.pushManifest(encoded.bytes, encoded.mediaType, target.tag);
  return { digest: encoded.digest, index, reference: formatReference(target) };
}
