// Checks the tRPC endpoint makes before any procedure runs: no sign-in calls in batches, a cap on
// batch size, and no state-changing request from another site's page.
import { TRPC_ERROR_CODES_BY_KEY, type TRPC_ERROR_CODE_KEY } from '@trpc/server/rpc';
import superjson from 'superjson';
import { readCookie, sessionCookieName } from '../cookies.ts';
import { requestHosts } from './request-facts.ts';

/** A tRPC-shaped error answer (superjson envelope), so the dashboard's client shows the message. */
export function trpcRefusal(status: number, code: TRPC_ERROR_CODE_KEY, message: string): Response {
  const shape = { message, code: TRPC_ERROR_CODES_BY_KEY[code], data: { code, httpStatus: status } };
  return Response.json({ error: superjson.serialize(shape) }, { status, headers: { 'cache-control': 'no-store' } });
}

/** The procedure paths a request names, as tRPC's fetch adapter reads them; undefined if unreadable. */
export function requestedPaths(req: Request, endpoint: string): { paths: string[]; batch: boolean } | undefined {
  const url = new URL(req.url);
  const trim = (text: string) => text.replace(/^\/+/, '').replace(/\/+$/, '');
  const pathname = trim(url.pathname);
  const base = trim(endpoint);
  if (!pathname.startsWith(base)) return undefined;
  let path: string;
  try {
    path = decodeURIComponent(trim(pathname.slice(base.length)));
  } catch {
    return undefined; // tRPC answers malformed paths with its own 400
  }
  const batch = url.searchParams.get('batch') === '1';
  return { paths: batch ? path.split(',') : [path], batch };
}

/**
 * Sign-in must cost one request per password tried, so `auth.*` never rides in a batch (the
 * dashboard sends them unbatched); and no batch may hold more than `maxBatchSize` calls.
 */
export function refuseBatch(req: Request, endpoint: string, maxBatchSize: number): Response | undefined {
  const named = requestedPaths(req, endpoint);
  if (!named?.batch) return undefined;
  if (named.paths.some((path) => path === 'auth' || path.startsWith('auth.'))) {
    return trpcRefusal(400, 'BAD_REQUEST', 'Sign-in calls (auth.*) cannot be batched: send each one as its own request.');
  }
  if (named.paths.length > maxBatchSize) return trpcRefusal(400, 'BAD_REQUEST', `A batch may hold at most ${maxBatchSize} calls; this one has ${named.paths.length}.`);
  return undefined;
}

const safeMethods = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Refuses a state-changing request that a page on another site made the browser send (CSRF):
 * `Sec-Fetch-Site` other than same-origin/none, or an `Origin` whose host is not the one the
 * request was addressed to. Browsers send Origin on every POST, so a request with neither header
 * comes from a script or tool, which no other site can steer. Requests that carry an API token
 * and no session cookie are exempt: a browser never adds that header for another site.
 */
export function refuseCrossSite(req: Request): Response | undefined {
  if (safeMethods.has(req.method.toUpperCase())) return undefined;
  const hasSession = readCookie(req.headers.get('cookie'), sessionCookieName) !== undefined;
  const hasApiToken = /^Bearer\s+cat_\S+$/i.test(req.headers.get('authorization') ?? '');
  if (hasApiToken && !hasSession) return undefined;
  const refuse = () => trpcRefusal(403, 'FORBIDDEN', 'This request came from another site, so it was refused. Use the dashboard itself, or an API token from a script.');
  const site = req.headers.get('sec-fetch-site')?.toLowerCase();
  if (site && site !== 'same-origin' && site !== 'none') return refuse();
  const origin = req.headers.get('origin');
  if (origin === null) return undefined;
  let host: string;
  try {
    host = new URL(origin).host.toLowerCase();
  } catch {
    return refuse(); // "null" (sandboxed frames, some redirects) and garbage alike
  }
  return requestHosts(req).includes(host) ? undefined : refuse();
}

/** The largest request body the endpoint reads: sign-in, pins and forms are a few KiB at most. */
export const maxRequestBodyBytes = 1024 * 1024;

/**
 * The request with its body read into memory, at most `maxBytes` of it, or a 413 answer. tRPC
 * would otherwise read any body whole, however large; a declared Content-Length over the limit is
 * refused before reading anything.
 */
export async function boundedBody(req: Request, maxBytes = maxRequestBodyBytes): Promise<Request | Response> {
  if (!req.body) return req;
  const tooLarge = () => trpcRefusal(413, 'PAYLOAD_TOO_LARGE', `Request bodies are limited to ${Math.round(maxBytes / 1024)} KiB.`);
  const declared = Number(req.headers.get('content-length') ?? '0');
  if (declared > maxBytes) return tooLarge();
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = req.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      return tooLarge();
    }
    chunks.push(value);
  }
  return new Request(req.url, { method: req.method, headers: req.headers, body: Buffer.concat(chunks), signal: req.signal });
}
