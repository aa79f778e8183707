// Reading an image's config blob for its page. A Cider config is read with the schema
// @cider/oci writes and pulls with (ciderImageConfigFields), one field at a time: others push
// configs too, so every field is optional and a field that does not fit the schema is left out,
// never an error.
import type { Registry } from '@cider/db';
import { Annotation, CiderMediaType, ciderImageConfigFields, payloadFileFields, sha256, type Descriptor, type RegistryClient } from '@cider/oci';
import type { z } from 'zod';
import { AppError } from '../../errors.ts';
import { cacheKey, forever, maxCachedBytes, remember } from './browse.ts';

/** Config blobs larger than this are described, not fetched. */
export const maxConfigBytes = 1024 * 1024;
/** Payload files listed from a Cider config. */
const maxConfigFiles = 64;

/** One payload file of a Cider config (`files[]`), as far as the dashboard shows it. */
export interface CiderConfigFile {
  name: string | null;
  kind: string | null;
  mediaType: string | null;
  size: number | null;
  digest: string | null;
  /** Layers the file was stored as (more than one when it was split with --chunk-size). */
  parts: number;
}

/** Cider's config blob (DESIGN.md "Image format"); every field optional, since others push too. */
export interface CiderConfig {
  os: string | null;
  version: string | null;
  build: string | null;
  architecture: string | null;
  devices: string[];
  payload: { name: string | null; size: number | null } | null;
  /** `created` from the config, else the manifest's org.opencontainers.image.created annotation. */
  created: string | null;
  files: CiderConfigFile[];
  /** Files beyond the ones listed. */
  moreFiles: number;
}

/** The value if it fits `schema`, else null. */
function fieldOf<S extends z.ZodType>(schema: S, value: unknown): z.output<S> | null {
  const parsed = schema.safeParse(value);
  return parsed.success ? parsed.data : null;
}

const record = (v: unknown): Record<string, unknown> | undefined => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);

/** A non-empty string, else null: for configs that are not Cider's (an OCI image config's os). */
export const readText = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

const fields = ciderImageConfigFields.shape;
const fileFields = payloadFileFields.shape;
const payloadFields = fields.payload.shape;

function readConfigFile(raw: unknown): CiderConfigFile | undefined {
  const f = record(raw);
  if (!f) return undefined;
  return {
    name: fieldOf(fileFields.name, f.name),
    kind: fieldOf(fileFields.kind, f.kind) ?? null,
    mediaType: fieldOf(fileFields.mediaType, f.mediaType) ?? null,
    size: fieldOf(fileFields.size, f.size),
    digest: fieldOf(fileFields.digest, f.digest),
    parts: Array.isArray(f.parts) ? f.parts.length : 0,
  };
}

export function parseCiderConfig(json: unknown, layers: Descriptor[], annotations?: Record<string, string>): CiderConfig {
  const c = record(json) ?? {};
  const p = record(c.payload);
  const files = Array.isArray(c.files) ? c.files.flatMap((f) => readConfigFile(f) ?? []) : [];
  const name = fieldOf(payloadFields.name, p?.name);
  const payloadLayer = layers.find((l) => name !== null && l.annotations?.[Annotation.title] === name) ?? layers.find((l) => l.mediaType === CiderMediaType.ipsw);
  const payloadFile = name !== null ? files.find((f) => f.name === name) : undefined;
  const devices = Array.isArray(c.devices) ? c.devices.flatMap((d) => fieldOf(fields.devices.unwrap().element, d) ?? []) : [];
  return {
    os: fieldOf(fields.os, c.os),
    version: fieldOf(fields.version, c.version) ?? null,
    build: fieldOf(fields.build, c.build) ?? null,
    architecture: fieldOf(fields.architecture, c.architecture),
    devices,
    payload:
      p || payloadLayer
        ? { name: name ?? payloadLayer?.annotations?.[Annotation.title] ?? null, size: fieldOf(payloadFields.size, p?.size) ?? payloadFile?.size ?? payloadLayer?.size ?? null }
        : null,
    created: fieldOf(fields.created, c.created) ?? fieldOf(fields.created, annotations?.[Annotation.created]),
    files: files.slice(0, maxConfigFiles),
    moreFiles: Math.max(0, files.length - maxConfigFiles),
  };
}

export function isJsonMediaType(mediaType: string): boolean {
  return mediaType === 'application/json' || mediaType.endsWith('+json');
}

/** A small JSON config blob, verified against its digest; `data` inline when the descriptor has it. */
export async function fetchConfigJson(client: RegistryClient, registry: Registry, repository: string, config: Descriptor): Promise<unknown> {
  return remember(cacheKey(registry, 'blob', config.digest), config.size <= maxCachedBytes ? forever : 0, async () => {
    let bytes: Buffer;
    if (config.data) {
      bytes = Buffer.from(config.data, 'base64');
    } else {
      const blob = await client.repository(registry.host, repository).fetchBlob(config.digest);
      bytes = await blob.body.buffer(maxConfigBytes);
    }
    if (sha256(bytes) !== config.digest) throw new AppError('REGISTRY_ERROR', `The config blob of this image does not match its digest ${config.digest}.`);
    return JSON.parse(bytes.toString('utf8')) as unknown;
  });
}
