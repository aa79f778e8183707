// A GET that follows redirects the way a public download may (an IPSW on a CDN, Apple's catalog):
// at most a few hops, http and https only, never from https down to plain http, and no hop a
// server named may lead to a link-local or cloud-metadata address. No credentials are ever sent.
// (Registry requests follow their own rules in ./transport.ts, which also decides credentials.)
import { OciError } from '../errors.ts';
import type { HttpClient, HttpResponseData } from './http-client.ts';

const redirectStatuses = new Set([301, 302, 303, 307, 308]);

/** The URL as people read it and as images record it: no credentials, query or fragment. */
export function displayUrl(url: string | URL): string {
  const copy = new URL(url);
  copy.username = '';
  copy.password = '';
  copy.search = '';
  copy.hash = '';
  return copy.toString();
}

export interface FollowOptions {
  headers: Record<string, string>;
  signal?: AbortSignal;
  maxRedirects: number;
  /** Check the first URL's address too (a server fetching a URL it did not choose); later hops always are. */
  guardFirstHop?: boolean;
  /** What the messages name, e.g. the URL or "The catalog at <url>". */
  what: string;
  /** Wraps each request (an idle timer, say). */
  wait?: (request: Promise<HttpResponseData>) => Promise<HttpResponseData>;
}

/** GET `url`, following redirects; returns the first answer that is not a redirect. */
export async function getFollowingRedirects(client: HttpClient, url: URL, options: FollowOptions): Promise<HttpResponseData> {
  const { what } = options;
  let target = url;
  for (let hop = 0; ; hop++) {
    const request = client.request(target, { method: 'GET', headers: options.headers, signal: options.signal, guardAddresses: hop > 0 || options.guardFirstHop === true });
    const response = await (options.wait ? options.wait(request) : request);
    if (!redirectStatuses.has(response.statusCode)) return response;
    response.body.destroy();
    const value = response.headers.location;
    const location = Array.isArray(value) ? value[0] : value;
    if (!location) throw new OciError('UNREACHABLE', `${what} answered HTTP ${response.statusCode} (a redirect) without a Location`, { retryable: false });
    if (hop >= options.maxRedirects) throw new OciError('UNREACHABLE', `${what} redirected more than ${options.maxRedirects} times; check the URL`, { retryable: false });
    const next = new URL(location, target);
    if (next.protocol !== 'http:' && next.protocol !== 'https:') throw new OciError('UNREACHABLE', `${what} redirected to a ${next.protocol} URL; only http and https are read`, { retryable: false });
    if (target.protocol === 'https:' && next.protocol === 'http:') throw new OciError('UNREACHABLE', `${what} redirected from https to plain http (${displayUrl(next)}); refused`, { retryable: false });
    target = next;
  }
}
