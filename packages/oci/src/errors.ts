// Typed errors with messages a person can act on. Every error the registry client or the cache
// throws is an OciError; callers switch on `code`, people read `message`.

export type OciErrorCode =
  | 'INVALID_REFERENCE'
  | 'INVALID_DIGEST'
  | 'NOT_FOUND'
  | 'UNAUTHORIZED'
  | 'DENIED'
  | 'DIGEST_MISMATCH'
  | 'SIZE_MISMATCH'
  | 'MANIFEST_TOO_LARGE'
  | 'INVALID_MANIFEST'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'NO_MATCHING_PLATFORM'
  | 'REGISTRY_ERROR'
  | 'UNREACHABLE'
  | 'STALLED'
  | 'TAG_IMMUTABLE'
  | 'INSUFFICIENT_SPACE'
  | 'CACHE_CORRUPT'
  | 'BUSY'
  | 'INVALID_IMAGE';

export class OciError extends Error {
  override name = 'OciError';
  constructor(
    readonly code: OciErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export class InvalidReferenceError extends OciError {
  override name = 'InvalidReferenceError';
  constructor(
    readonly reference: string,
    reason: string,
  ) {
    super('INVALID_REFERENCE', `Invalid reference "${reference}": ${reason}`);
  }
}

export class InvalidDigestError extends OciError {
  override name = 'InvalidDigestError';
  constructor(
    readonly digest: string,
    reason: string,
  ) {
    super('INVALID_DIGEST', `Invalid digest "${digest}": ${reason}`);
  }
}

/** What the registry was asked when it answered with an error. */
export interface RequestInfo {
  method: string;
  url: string;
  status?: number;
}

/** One entry of the distribution-spec error body (`{"errors":[{code,message,detail}]}`). */
export interface RegistryErrorEntry {
  code: string;
  message: string;
  detail?: unknown;
}

export class NotFoundError extends OciError {
  override name = 'NotFoundError';
  constructor(
    message: string,
    readonly request?: RequestInfo,
    readonly errors: RegistryErrorEntry[] = [],
  ) {
    super('NOT_FOUND', message);
  }
}

export class UnauthorizedError extends OciError {
  override name = 'UnauthorizedError';
  constructor(
    message: string,
    readonly request?: RequestInfo,
    readonly errors: RegistryErrorEntry[] = [],
    code: 'UNAUTHORIZED' | 'DENIED' = 'UNAUTHORIZED',
  ) {
    super(code, message);
  }
}

export class DigestMismatchError extends OciError {
  override name = 'DigestMismatchError';
  constructor(
    readonly expected: string,
    readonly actual: string,
    what = 'content',
  ) {
    super('DIGEST_MISMATCH', `The ${what} does not match its digest: expected ${expected}, got ${actual}. It was discarded; the source may be corrupt or tampered with.`);
  }
}

export class SizeMismatchError extends OciError {
  override name = 'SizeMismatchError';
  constructor(
    readonly expected: number,
    readonly actual: number,
    what = 'content',
  ) {
    super('SIZE_MISMATCH', `The ${what} has ${actual} bytes but its descriptor says ${expected}. It was discarded.`);
  }
}

export class ManifestTooLargeError extends OciError {
  override name = 'ManifestTooLargeError';
  constructor(
    readonly size: number,
    readonly limit: number,
    readonly request?: RequestInfo,
  ) {
    super('MANIFEST_TOO_LARGE', `Refusing a manifest of ${size} bytes: manifests are limited to ${limit} bytes${request ? ` (${request.method} ${request.url})` : ''}.`);
  }
}

/** Any other error status: keeps the registry's codes and messages, and what was asked. */
export class RegistryError extends OciError {
  override name = 'RegistryError';
  constructor(
    message: string,
    readonly request: RequestInfo & { status: number },
    readonly errors: RegistryErrorEntry[] = [],
  ) {
    super('REGISTRY_ERROR', message);
  }
  /** The first distribution-spec error code, e.g. `MANIFEST_INVALID`. */
  get registryCode(): string | undefined {
    return this.errors[0]?.code;
  }
}

/** The registry could not be reached at all (DNS, refused, reset, TLS). */
export class UnreachableError extends OciError {
  override name = 'UnreachableError';
  constructor(
    message: string,
    readonly request: RequestInfo,
    options?: { cause?: unknown },
  ) {
    super('UNREACHABLE', message, options);
  }
}

export class InsufficientSpaceError extends OciError {
  override name = 'InsufficientSpaceError';
  constructor(
    readonly needed: number,
    readonly available: number,
    readonly path: string,
  ) {
    super(
      'INSUFFICIENT_SPACE',
      `Not enough free disk for this pull: it needs ${formatBytes(needed)} more under ${path} but only ${formatBytes(available)} is free. Free some space (cache prune) and retry.`,
    );
  }
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

export function isOciError(error: unknown, code?: OciErrorCode): error is OciError {
  return error instanceof OciError && (code === undefined || error.code === code);
}
