// Digests (image-spec descriptor.md#digests): `algorithm ":" encoded`. Validated before any
// path or URL is built from one, so a hostile digest can never walk out of blobs/.
import { createHash } from 'node:crypto';
import { InvalidDigestError } from './errors.ts';

export type Digest = `${string}:${string}`;

/** Registered algorithms and their exact encoded lengths (lowercase hex). */
const algorithms = {
  sha256: 64,
  sha512: 128,
} as const;

export type DigestAlgorithm = keyof typeof algorithms;

const grammar = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

export interface ParsedDigest {
  algorithm: DigestAlgorithm;
  hex: string;
}

/** Parses and validates a digest; throws InvalidDigestError with the reason. */
export function parseDigest(value: string): ParsedDigest {
  if (!grammar.test(value)) throw new InvalidDigestError(value, 'expected algorithm:hex, e.g. sha256:<64 hex digits>');
  const colon = value.indexOf(':');
  const algorithm = value.slice(0, colon);
  const hex = value.slice(colon + 1);
  if (!(algorithm in algorithms)) {
    throw new InvalidDigestError(value, `unsupported algorithm "${algorithm}" (supported: ${Object.keys(algorithms).join(', ')})`);
  }
  const length = algorithms[algorithm as DigestAlgorithm];
  if (hex.length !== length || !/^[0-9a-f]+$/.test(hex)) {
    throw new InvalidDigestError(value, `${algorithm} needs exactly ${length} lowercase hex digits`);
  }
  return { algorithm: algorithm as DigestAlgorithm, hex };
}

export function isDigest(value: string): value is Digest {
  try {
    parseDigest(value);
    return true;
  } catch {
    return false;
  }
}

/** Asserts a digest is valid and returns it typed. */
export function digest(value: string): Digest {
  parseDigest(value);
  return value as Digest;
}

export function sha256(data: Buffer | Uint8Array | string): Digest {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** A short form for people: `sha256:0123456789ab`. */
export function shortDigest(value: string): string {
  const colon = value.indexOf(':');
  return colon < 0 ? value.slice(0, 12) : value.slice(0, colon + 13);
}
