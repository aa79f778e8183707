// Typed errors with messages a person can act on. Every error the registry client or the cache
// throws is an OciError; callers switch on `code`, people read `message`, and schedulers read
// `retryable` (the agent reports it to the control plane, which requeues or gives up).

export type OciErrorCode =
  | 'INVALID_REFERENCE'
  | 'INVALID_DIGEST'
  | 'NOT_FOUND'
  | 'UNAUTHORIZED'
  | 'DENIED'
  | 'DIGEST_MISMATCH'
  | 'SIZE_MISMATCH'
  | 'INVALID_RANGE'
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
  | 'CACHE_IO'
  | 'BUSY'
  | 'INVALID_IMAGE'
  /** A bundle file (an OCI image layout as a tar) that is damaged, incomplete or hostile. */
  | 'INVALID_BUNDLE';

/**
 * Codes whose errors may go away by themselves: the network, a stalled transfer, a lock another
 * process holds. Every other code is retryable only where the code that throws says so (a
 * registry's 5xx or 429, a referrers index another client kept rewriting).
 */
const transientCodes: ReadonlySet<OciErrorCode> = new Set(['UNREACHABLE', 'STALLED', 'BUSY']);

export interface OciErrorOptions {
  cause?: unknown;
  /** Overrides what the code implies (see `retryable`). */
  retryable?: boolean;
}

export class OciError extends Error {
  override name = 'OciError';
  /**
   * Whether the same request, tried again later without anyone changing anything, may succeed.
   * Decided where the error is made, which knows why it failed: a reset connection, a timeout,
   * a 5xx or 429 are; a missing tag, a denied credential, a tampered blob, an invalid manifest or
   * a full disk are not (someone must act first).
   */
  readonly retryable: boolean;
  constructor(
    readonly code: OciErrorCode,
    message: string,
    options: OciErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.retryable = options.retryable ?? transientCodes.has(code);
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

/** Statuses that say the registry may answer differently later: a timeout, overload, a server fault. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status <= 599);
}

/** Any other error status: keeps the registry's codes and messages, and what was asked. */
export class RegistryError extends OciError {
  override name = 'RegistryError';
  constructor(
    message: string,
    readonly request: RequestInfo & { status: number },
    readonly errors: RegistryErrorEntry[] = [],
  ) {
    super('REGISTRY_ERROR', message, { retryable: isRetryableStatus(request.status) });
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

/** File-system errors that may pass: the system is short of descriptors, or something is busy. */
const transientErrnos = new Set(['EAGAIN', 'EBUSY', 'EINTR', 'EMFILE', 'ENFILE']);

/**
 * A failure of the local system (an errno from the file system) as an OciError, CACHE_IO, retryable
 * only when it may pass by itself; an error that is already an OciError, or is not a system error
 * (a caller's abort reason, a bug), is returned unchanged.
 */
export function localFailure(error: unknown, what: string): unknown {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (error instanceof OciError || !(error instanceof Error) || typeof code !== 'string' || !/^E[A-Z]+$/.test(code)) return error;
  return new OciError('CACHE_IO', `${what} failed: ${error.message}`, { cause: error, retryable: transientErrnos.has(code) });
}

export function isOciError(error: unknown, code?: OciErrorCode): error is OciError {
  return error instanceof OciError && (code === undefined || error.code === code);
}
