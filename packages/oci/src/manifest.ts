// Manifest, index and descriptor types (image-spec 1.1: manifest.md, image-index.md,
// descriptor.md) and the structural checks applied to every one we read.
import { parseDigest, sha256, type Digest } from './digest.ts';
import { OciError } from './errors.ts';
import { isIndexMediaType, MediaType } from './media-types.ts';

export interface Platform {
  architecture: string;
  os: string;
  'os.version'?: string;
  'os.features'?: string[];
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  data?: string;
  artifactType?: string;
  platform?: Platform;
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export type Manifest = ImageManifest | ImageIndex;

export function isIndex(manifest: Manifest): manifest is ImageIndex {
  return Array.isArray((manifest as ImageIndex).manifests);
}

function invalid(what: string, reason: string): OciError {
  return new OciError('INVALID_MANIFEST', `Invalid ${what}: ${reason}`);
}

function checkDescriptor(value: unknown, where: string): Descriptor {
  if (typeof value !== 'object' || value === null) throw invalid('descriptor', `${where} is not an object`);
  const d = value as Record<string, unknown>;
  if (typeof d.mediaType !== 'string' || d.mediaType === '') throw invalid('descriptor', `${where}.mediaType is missing`);
  if (typeof d.digest !== 'string') throw invalid('descriptor', `${where}.digest is missing`);
  try {
    parseDigest(d.digest);
  } catch (error) {
    throw invalid('descriptor', `${where}.digest: ${(error as Error).message}`);
  }
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) {
    throw invalid('descriptor', `${where}.size must be a non-negative integer`);
  }
  return d as unknown as Descriptor;
}

/**
 * Parses manifest bytes and checks the structure callers rely on (descriptors with valid
 * digests and sizes). `mediaType` is what the registry said the body is.
 */
export function parseManifest(body: Buffer | string, mediaType?: string): Manifest {
  let json: unknown;
  try {
    json = JSON.parse(typeof body === 'string' ? body : body.toString('utf8'));
  } catch {
    throw invalid('manifest', 'the body is not JSON');
  }
  if (typeof json !== 'object' || json === null) throw invalid('manifest', 'the body is not a JSON object');
  const m = json as Record<string, unknown>;
  if (m.schemaVersion !== 2) throw invalid('manifest', `schemaVersion is ${JSON.stringify(m.schemaVersion)}, expected 2`);
  const declared = typeof m.mediaType === 'string' ? m.mediaType : undefined;
  if (declared && mediaType && declared !== mediaType && !mediaType.startsWith('application/json')) {
    throw invalid('manifest', `the body says mediaType ${declared} but the registry sent ${mediaType}`);
  }
  const effective = declared ?? mediaType;
  if (Array.isArray(m.manifests) || isIndexMediaType(effective)) {
    if (!Array.isArray(m.manifests)) throw invalid('index', 'manifests is missing');
    m.manifests.forEach((d, i) => checkDescriptor(d, `manifests[${i}]`));
  } else {
    checkDescriptor(m.config, 'config');
    if (!Array.isArray(m.layers)) throw invalid('manifest', 'layers is missing');
    m.layers.forEach((d, i) => checkDescriptor(d, `layers[${i}]`));
  }
  if (m.subject !== undefined) checkDescriptor(m.subject, 'subject');
  return json as Manifest;
}

/** The media type of a manifest body: its own field, else inferred from its shape. */
export function manifestMediaType(manifest: Manifest): string {
  if (manifest.mediaType) return manifest.mediaType;
  return isIndex(manifest) ? MediaType.ociIndex : MediaType.ociManifest;
}

/** Canonical bytes for a manifest we create: JSON without extra whitespace. */
export function encodeManifest(manifest: Manifest): { bytes: Buffer; digest: Digest; mediaType: string } {
  const bytes = Buffer.from(JSON.stringify(manifest));
  return { bytes, digest: sha256(bytes), mediaType: manifestMediaType(manifest) };
}

/** The descriptor of some bytes. */
export function describe(bytes: Buffer, mediaType: string, extra: Partial<Descriptor> = {}): Descriptor {
  return { mediaType, digest: sha256(bytes), size: bytes.length, ...extra };
}

/** The image-spec's empty JSON blob `{}` and its descriptor, for artifacts without a config. */
export const emptyConfig = {
  bytes: Buffer.from('{}'),
  descriptor: {
    mediaType: MediaType.ociEmpty,
    digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a' as Digest,
    size: 2,
    data: 'e30=',
  } satisfies Descriptor,
};

/** Total bytes a manifest references (config and layers), for space checks and progress. */
export function manifestContentSize(manifest: ImageManifest): number {
  return manifest.config.size + manifest.layers.reduce((sum, layer) => sum + layer.size, 0);
}
