// Attaching a file to an image as a referrer (image-spec 1.1 `subject`): an SBOM, a signature,
// release notes. The artifact names the image it describes; listReferrers finds it through the
// referrers API, or the `sha256-<hex>` tag where the registry has none (distribution 2.8).
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { OciError } from '../errors.ts';
import { emptyConfig, encodeManifest, type Descriptor, type ImageManifest } from '../manifest.ts';
import { Annotation, MediaType } from '../media-types.ts';
import { digestFile } from '../push.ts';
import { formatReference, parseReference, referenceTarget, type Reference } from '../reference.ts';
import type { RegistryClient } from '../registry/client.ts';
import { listReferrers, pushReferrer } from '../registry/referrers.ts';
import type { PushedReferrer } from '../source.ts';

export interface AttachOptions {
  client: RegistryClient;
  /** The image the file is about: a tag or a digest. */
  subject: string | Reference;
  path: string;
  artifactType: string;
  /** The file's media type; application/octet-stream by default. */
  mediaType?: string;
  annotations?: Record<string, string>;
}

export interface AttachResult extends PushedReferrer {
  subject: Descriptor;
}

const artifactTypePattern = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;

export async function attachReferrer(options: AttachOptions): Promise<AttachResult> {
  if (!artifactTypePattern.test(options.artifactType)) {
    throw new OciError('INVALID_MANIFEST', `--artifact-type "${options.artifactType}" is not a media type (type/subtype, e.g. application/spdx+json)`);
  }
  const info = await stat(options.path).catch(() => undefined);
  if (!info?.isFile()) throw new OciError('NOT_FOUND', `Cannot attach ${options.path}: no such file`);
  const ref = typeof options.subject === 'string' ? parseReference(options.subject) : options.subject;
  const repo = options.client.repositoryOf(ref);
  const resolved = await repo.resolve(referenceTarget(ref));
  const subject: Descriptor = { mediaType: resolved.mediaType, digest: resolved.digest, size: resolved.size };

  const mediaType = options.mediaType ?? MediaType.octetStream;
  const { digest, size } = await digestFile(options.path);
  await repo.pushBlob({ digest, size, mediaType, open: () => createReadStream(options.path, { highWaterMark: 1 << 20 }) });
  await repo.pushBlob({ digest: emptyConfig.descriptor.digest, size: emptyConfig.bytes.length, open: () => emptyConfig.bytes });
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    artifactType: options.artifactType,
    config: emptyConfig.descriptor,
    layers: [{ mediaType, digest, size, annotations: { [Annotation.title]: basename(options.path) } }],
    subject,
    annotations: { [Annotation.created]: new Date().toISOString(), [Annotation.title]: basename(options.path), ...options.annotations },
  };
  const encoded = encodeManifest(manifest);
  const pushed = await pushReferrer(repo, encoded.bytes, encoded.mediaType, subject);
  return { ...pushed, subject };
}

/** The referrers of an image (a tag is resolved to its digest first). */
export async function referrersOf(client: RegistryClient, subject: string | Reference, artifactType?: string): Promise<{ subject: Descriptor; reference: string; referrers: Descriptor[] }> {
  const ref = typeof subject === 'string' ? parseReference(subject) : subject;
  const repo = client.repositoryOf(ref);
  const resolved = await repo.resolve(referenceTarget(ref));
  const referrers = await listReferrers(repo, resolved.digest, artifactType ? { artifactType } : {});
  return { subject: resolved, reference: formatReference(ref), referrers };
}
