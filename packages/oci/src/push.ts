// Pushing files as an OCI 1.1 artifact (image-spec manifest.md "Guidelines for Artifact Usage"):
// each file a layer titled by its name, an empty or given config, the artifactType set.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Digest } from './digest.ts';
import { OciError } from './errors.ts';
import { emptyConfig, encodeManifest, type Descriptor, type ImageManifest } from './manifest.ts';
import { Annotation, MediaType } from './media-types.ts';
import { formatReference, parseReference, type Reference } from './reference.ts';
import type { RegistryClient } from './registry/client.ts';

export interface PushFile {
  path: string;
  /** Title in the manifest; the file's base name by default. */
  name?: string;
  mediaType?: string;
  annotations?: Record<string, string>;
}

export interface PushArtifactOptions {
  client: RegistryClient;
  /** Where to push; its tag (or `latest`) is set to the new manifest. */
  reference: string | Reference;
  files: PushFile[];
  artifactType?: string;
  /** A config blob; the OCI empty config `{}` when absent. */
  config?: { mediaType: string; bytes: Buffer };
  annotations?: Record<string, string>;
  /** Extra tags to point at the same manifest. */
  extraTags?: string[];
  onProgress?: (event: { file: string; bytesDone: number; bytesTotal: number; phase: 'hashing' | 'uploading' }) => void;
  /** Bytes per PATCH for files uploaded in chunks (registry/upload.ts). Default 32 MiB. */
  chunkSize?: number;
  /** Files smaller than this are uploaded in one PUT, larger ones in resumable chunks. Default 64 MiB. */
  monolithicThreshold?: number;
  /** Repositories on the same registry to mount existing blobs from instead of uploading them. */
  mountFrom?: string[];
}

export interface PushResult {
  digest: Digest;
  manifest: ImageManifest;
  descriptor: Descriptor;
  reference: string;
}

/** sha256 and size of a file, streamed (memory does not grow with the file). */
export async function digestFile(path: string, onBytes?: (n: number) => void): Promise<{ digest: Digest; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
    onBytes?.((chunk as Buffer).length);
  }
  return { digest: `sha256:${hash.digest('hex')}`, size };
}

export async function pushArtifact(options: PushArtifactOptions): Promise<PushResult> {
  const ref = typeof options.reference === 'string' ? parseReference(options.reference) : options.reference;
  if (ref.digest) throw new OciError('INVALID_REFERENCE', `Push to a tag, not a digest (${formatReference(ref)})`);
  const repo = options.client.repositoryOf(ref);
  if (options.files.length === 0) throw new OciError('INVALID_MANIFEST', 'Nothing to push: give at least one file');

  const layers: Descriptor[] = [];
  for (const file of options.files) {
    const info = await stat(file.path).catch(() => undefined);
    if (!info?.isFile()) throw new OciError('NOT_FOUND', `Cannot push ${file.path}: no such file`);
    const name = file.name ?? basename(file.path);
    let hashed = 0;
    const { digest, size } = await digestFile(file.path, (n) => {
      hashed += n;
      options.onProgress?.({ file: name, bytesDone: hashed, bytesTotal: info.size, phase: 'hashing' });
    });
    const mediaType = file.mediaType ?? MediaType.octetStream;
    const { chunkSize, monolithicThreshold, mountFrom } = options;
    const onProgress = (bytesDone: number) => options.onProgress?.({ file: name, bytesDone, bytesTotal: size, phase: 'uploading' });
    const open = () => createReadStream(file.path, { highWaterMark: 1 << 20 });
    await repo.pushBlob({ digest, size, mediaType, open }, { chunkSize, monolithicThreshold, mountFrom, onProgress });
    options.onProgress?.({ file: name, bytesDone: size, bytesTotal: size, phase: 'uploading' });
    layers.push({ mediaType, digest, size, annotations: { [Annotation.title]: name, ...file.annotations } });
  }

  let config: Descriptor = emptyConfig.descriptor;
  if (options.config) {
    const bytes = options.config.bytes;
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}` as Digest;
    await repo.pushBlob({ digest, size: bytes.length, mediaType: options.config.mediaType, open: () => bytes });
    config = { mediaType: options.config.mediaType, digest, size: bytes.length };
  } else {
    await repo.pushBlob({ digest: emptyConfig.descriptor.digest, size: 2, open: () => emptyConfig.bytes });
  }

  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    ...(options.artifactType ? { artifactType: options.artifactType } : {}),
    config,
    layers,
    annotations: { [Annotation.created]: new Date().toISOString(), ...options.annotations },
  };
  const encoded = encodeManifest(manifest);
  const tag = ref.tag ?? 'latest';
  const descriptor = await repo.pushManifest(encoded.bytes, encoded.mediaType, tag);
  for (const extra of options.extraTags ?? []) await repo.pushManifest(encoded.bytes, encoded.mediaType, extra);
  if (options.artifactType) descriptor.artifactType = options.artifactType;
  return { digest: encoded.digest, manifest, descriptor, reference: formatReference({ ...ref, tag }) };
}
