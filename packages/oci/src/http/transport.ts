// One registry's HTTP transport: authentication (./auth.ts), redirects that never carry
// Authorization to another host and never lead from https to plain http, retries with jittered
// backoff on network errors and 5xx, Retry-After on 429, and the distribution-spec error body
// turned into typed errors. Whatever the registry sends is bounded: error bodies are read to a
// few KiB (then the connection is closed), and their text is cleaned before it reaches a message.
import type { Readable } from 'node:stream';
import {
  NotFoundError,
  type OciError,
  RegistryError,
  UnauthorizedError,
  UnreachableError,
  type RegistryErrorEntry,
  type RequestInfo,
} from '../errors.ts';
import { forbiddenAddressCode } from './address-policy.ts';
import type { AuthManager } from './auth.ts';
import { backoffDelay, parseRetryAfter, sleep } from './backoff.ts';
import type { HttpClient, HttpResponseData, ResponseBody } from './http-client.ts';
import { errorCodeOf, printable } from './remote-text.ts';

export type HttpMethod = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';

export interface RetryPolicy {
  /** Retries after the first attempt. */
  retries: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const defaultRetryPolicy: RetryPolicy = { retries: 5, baseDelayMs: 250, maxDelayMs: 15_000 };

export interface HttpRequest {
  method: HttpMethod;
  /** Absolute URL, or a path starting with /v2/ on this registry. */
  url: string;
  headers?: Record<string, string>;
  /** Buffers and strings are replayed on retry; a stream is sent once. */
  body?: Buffer | string | Readable;
  /** Token scopes for this request, e.g. `repository:demo/macos:pull`. */
  scopes: string[];
  /** Statuses that mean success; anything else becomes a typed error. */
  expect: number[];
  /** What is being asked for, for error messages: `manifest demo/macos:15.2`. */
  what: string;
  signal?: AbortSignal;
  /** Send no Authorization, even when one is known (to see what the registry asks of a stranger). */
  withoutCredentials?: boolean;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: ResponseBody;
  /** The URL that answered (after redirects). */
  url: string;
}

export interface TransportOptions {
  registry: string;
  baseUrl: string;
  auth: AuthManager;
  http: HttpClient;
  userAgent: string;
  retry?: RetryPolicy;
  /** Abandon a response whose headers or body make no progress for this long. */
  stallTimeoutMs?: number;
}

const redirectStatuses = new Set([301, 302, 303, 307, 308]);
const retryableStatuses = new Set([408, 429, 500, 502, 503, 504]);
const maxRedirects = 10;
/** What is read of an error body for its message; the rest is not read, the connection closed. */
export const maxErrorBodyBytes = 4096;
/** Distribution-spec error entries kept from one error body. */
const maxErrorEntries = 10;

/** Network-level failures worth retrying: the next attempt may well succeed. */
const transientCodes = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
  'ESTALLED',
  'ECONNABORTED',
]);

export function errorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

export function isTransientNetworkError(error: unknown): boolean {
  const code = errorCode(error);
  return code !== undefined && transientCodes.has(code);
}

/**
 * What a body that failed half-read throws: a network failure (a reset, a stall) as a retryable
 * UnreachableError naming what was read; any other error unchanged.
 */
export function bodyReadFailure(error: unknown, registry: string, what: string, request: RequestInfo): unknown {
  if (!isTransientNetworkError(error)) return error;
  return new UnreachableError(`Lost the connection to registry ${registry} while reading ${what}: ${describeNetworkError(error)} (${request.method} ${request.url})`, request, { cause: error });
}

/**
 * A human explanation of a network error code. `peer` is who we talked to: the registry, or the
 * web server a download URL points at (bytes/url-source.ts).
 */
export function describeNetworkError(error: unknown, peer: 'registry' | 'server' = 'registry'): string {
  const code = errorCode(error);
  switch (code) {
    case 'ECONNREFUSED':
      return `connection refused (is the ${peer} running, and is the host and port right?)`;
    case 'ENOTFOUND':
      return `host not found (check the ${peer} host name)`;
    case 'EAI_AGAIN':
      return 'DNS lookup failed temporarily';
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
      return 'the connection was reset';
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'the connection timed out';
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
    case 'ESTALLED':
      return `the ${peer} stopped sending data (stalled)`;
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'CERT_HAS_EXPIRED':
      return `the ${peer}'s TLS certificate is not trusted (${errorCode(error)}); add its CA to NODE_EXTRA_CA_CERTS`;
    case forbiddenAddressCode:
      return (error as Error).message;
    case 'EPROTO':
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
      return peer === 'registry' ? 'TLS handshake failed (a plain-HTTP registry? use --plain-http)' : 'TLS handshake failed (a plain-HTTP server? use an http:// URL)';
    default:
      return (error as Error)?.message ?? String(error);
  }
}

/**
 * Parses `{"errors":[{"code","message","detail"}]}`; tolerates anything else. Codes and messages
 * come from the registry: they are kept short and printable, and only the first few entries.
 */
export function parseErrorBody(text: string): RegistryErrorEntry[] {
  try {
    const json = JSON.parse(text) as { errors?: unknown };
    if (!Array.isArray(json.errors)) return [];
    return json.errors
      .slice(0, maxErrorEntries)
      .filter((e): e is Record<string, unknown> => typeof e === 'object' && e !== null)
      .map((e) => ({ code: errorCodeOf(e.code ?? 'UNKNOWN'), message: printable(typeof e.message === 'string' ? e.message : ''), detail: e.detail }));
  } catch {
    return [];
  }
}

function headerValue(headers: HttpResponse['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

export class RegistryTransport {
  readonly registry: string;
  readonly baseUrl: string;
  private readonly origin: string;
  private readonly secure: boolean;
  private readonly retry: RetryPolicy;

  constructor(private readonly options: TransportOptions) {
    this.registry = options.registry;
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    const base = new URL(this.baseUrl);
    this.origin = base.origin;
    this.secure = base.protocol === 'https:';
    this.retry = options.retry ?? defaultRetryPolicy;
  }

  url(path: string): string {
    return path.startsWith('http://') || path.startsWith('https://') ? path : `${this.baseUrl}${path}`;
  }

  /** Sends a request and returns the response once its status is one of `expect`; throws a typed error otherwise. */
  async send(req: HttpRequest): Promise<HttpResponse> {
    const replayable = req.body === undefined || typeof req.body === 'string' || Buffer.isBuffer(req.body);
    let url = this.url(req.url);
    let method = req.method;
    let body = req.body;
    let attempt = 0;
    let authRetried = false;
    let refreshed = false;
    let redirects = 0;
    /** Whether the URL that named the current one was https: set by a redirect. */
    let cameFromHttps = this.secure;
    for (;;) {
      const target = new URL(url);
      if (target.protocol === 'http:' && cameFromHttps) throw this.downgrade(req.what, method, url, redirects > 0);
      const sameOrigin = target.origin === this.origin;
      const headers: Record<string, string> = { 'user-agent': this.options.userAgent, ...req.headers };
      if (sameOrigin && !req.withoutCredentials) {
        const authorization = await this.options.auth.authorization(this.registry, req.scopes);
        if (authorization) headers.authorization = authorization;
      }
      let response: HttpResponseData;
      try {
        // Another origin was named by the registry (a redirect, an upload or page URL): it must
        // not lead into the host's own network (./address-policy.ts).
        const guardAddresses = !sameOrigin;
        response = await this.options.http.request(url, { method, headers, body, signal: req.signal, idleTimeoutMs: this.options.stallTimeoutMs, guardAddresses });
      } catch (error) {
        if (req.signal?.aborted) throw error;
        if (replayable && isTransientNetworkError(error) && attempt < this.retry.retries) {
          await sleep(backoffDelay(attempt++, this.retry.baseDelayMs, this.retry.maxDelayMs), req.signal);
          continue;
        }
        throw new UnreachableError(
          `Cannot reach registry ${this.registry} for ${req.what}: ${describeNetworkError(error)} (${method} ${url})`,
          { method, url },
          { cause: error },
        );
      }
      const status = response.statusCode;
      const info: RequestInfo & { status: number } = { method, url, status };

      if (req.expect.includes(status)) {
        return { status, headers: response.headers, body: response.body, url };
      }

      if (redirectStatuses.has(status)) {
        const location = headerValue(response.headers, 'location');
        await response.body.dump();
        if (!location) throw new RegistryError(`Registry ${this.registry} redirected ${req.what} without a Location`, info);
        if (++redirects > maxRedirects) throw new RegistryError(`Registry ${this.registry} redirected ${req.what} too many times`, info);
        try {
          url = new URL(location, url).toString();
        } catch {
          throw new RegistryError(`Registry ${this.registry} redirected ${req.what} to an invalid URL (${printable(location, 100)})`, info);
        }
        cameFromHttps = target.protocol === 'https:';
        if (status === 303 && method !== 'HEAD') {
          method = 'GET';
          body = undefined;
        }
        continue;
      }

      // Only the start of an error body is read: enough for distribution's error codes. A longer
      // body's connection is closed, so a 1 GiB answer costs 4 KiB, not a gigabyte of traffic.
      const text = method === 'HEAD' ? '' : (await response.body.prefix(maxErrorBodyBytes)).toString('utf8');
      if (method === 'HEAD') await response.body.dump().catch(() => {});

      if (status === 401 && sameOrigin && !req.withoutCredentials) {
        const outcome = await this.options.auth.onUnauthorized(this.registry, response.headers['www-authenticate'], req.scopes, authRetried, headers.authorization, !refreshed);
        if (!replayable) throw new UnauthorizedError(`Registry ${this.registry} asked for authentication in the middle of an upload of ${req.what}`, info);
        // A renewed credential earns one more try of its own; anything else, one retry in all.
        if (outcome === 'refreshed') refreshed = true;
        else authRetried = true;
        continue;
      }

      if (retryableStatuses.has(status) && replayable && attempt < this.retry.retries) {
        const retryAfter = parseRetryAfter(response.headers['retry-after']);
        const delay = retryAfter ?? backoffDelay(attempt, this.retry.baseDelayMs, this.retry.maxDelayMs);
        attempt++;
        await sleep(Math.min(delay, 5 * 60_000), req.signal);
        continue;
      }

      throw statusError(this.registry, req.what, info, parseErrorBody(text), text);
    }
  }

  /** A URL that would take a request from https to plain http: refused before anything is sent. */
  private downgrade(what: string, method: string, url: string, redirected: boolean): RegistryError {
    const how = redirected ? `redirected ${what} from https to plain http` : `named a plain-http URL for ${what}`;
    return new RegistryError(
      `Registry ${this.registry} ${how} (${printable(url, 200)}): refused, so content and credentials never travel unencrypted. Fix the registry's (or its storage's) redirect URL to use https.`,
      { method, url: printable(url, 200), status: 0 },
    );
  }
}

function statusError(registry: string, what: string, info: RequestInfo & { status: number }, errors: RegistryErrorEntry[], text: string): OciError {
  const detail = errors.length ? errors.map((e) => `${e.code}${e.message ? `: ${e.message}` : ''}`).join('; ') : printable(text) || `HTTP ${info.status}`;
  if (info.status === 404) return new NotFoundError(`Not found at ${registry}: ${what} (${detail})`, info, errors);
  if (info.status === 401) return new UnauthorizedError(`Registry ${registry} refused ${what}: authentication required (${detail})`, info, errors);
  if (info.status === 403) {
    return new UnauthorizedError(`Registry ${registry} denied ${what}: the credentials lack permission (${detail})`, info, errors, 'DENIED');
  }
  return new RegistryError(`Registry ${registry} failed ${what} with HTTP ${info.status}: ${detail} (${info.method} ${info.url})`, info, errors);
}
