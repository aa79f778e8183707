// What a request says about where it came from, believing forwarding headers only as far as the
// deployment says reverse proxies stand in front of us (`CIDER_TRUST_PROXY`).
//
// A Next.js route handler never sees the socket, so the dashboard runs behind its own node:http
// server (apps/web/server.mjs), which sets `x-cider-peer` to the socket's address on every
// request, replacing any the client sent. With no proxy in front that is the caller's address.
// Behind proxies that append the peer to X-Forwarded-For (nginx `$proxy_add_x_forwarded_for`,
// Caddy, Traefik) and with CIDER_TRUST_PROXY set, it is the entry the outermost trusted proxy
// wrote. Only when the dashboard runs without server.mjs (`next dev`) does the last
// X-Forwarded-For entry stand in, which a client can forge.
import { isIP } from 'node:net';

/** Parses CIDER_TRUST_PROXY: unset/false = 0 hops, true = 1, or a number of proxies in front. */
export function parseTrustProxy(value: string | undefined): number {
  const text = (value ?? '').trim().toLowerCase();
  if (text === '' || text === 'false' || text === '0') return 0;
  if (text === 'true') return 1;
  const hops = Number(text);
  if (!Number.isInteger(hops) || hops < 0 || hops > 10) throw new Error(`CIDER_TRUST_PROXY must be true, false or the number of reverse proxies in front of the dashboard (0-10), not "${value}"`);
  return hops;
}

/** The comma-separated entries of forwarding headers, in order (several headers are joined). */
function entries(headers: Headers, name: string): string[] {
  const value = headers.get(name);
  if (!value) return [];
  return value
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)
    .slice(-32);
}

/**
 * The entry the outermost trusted proxy wrote: each proxy appends what it saw, so with `hops`
 * proxies the last `hops` entries are theirs and anything before is what the client claimed.
 */
function trustedEntry(list: string[], hops: number): string | undefined {
  if (list.length === 0) return undefined;
  return list[Math.max(0, list.length - Math.max(1, hops))];
}

/**
 * A bucket for the caller's address: IPv4 as is, IPv6 by its /64 (one subscriber usually holds a
 * whole /64), anything that is not an address as undefined.
 */
export function addressBucket(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  let address = raw.trim();
  if (address.startsWith('[')) address = address.slice(1, address.indexOf(']') > 0 ? address.indexOf(']') : undefined);
  else if (/^\d+\.\d+\.\d+\.\d+:\d+$/.test(address)) address = address.slice(0, address.lastIndexOf(':'));
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) address = mapped[1]!;
  const family = isIP(address);
  if (family === 4) return address;
  if (family !== 6) return undefined;
  return `${expandIpv6(address).slice(0, 4).join(':')}::/64`;
}

function expandIpv6(address: string): string[] {
  const withoutZone = address.split('%')[0]!;
  const [head = '', tail] = withoutZone.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  // An embedded IPv4 tail counts as two groups; the bucket only needs the first four anyway.
  const missing = Math.max(0, 8 - left.length - right.length);
  return [...left, ...Array<string>(tail === undefined ? 0 : missing).fill('0'), ...right].map((group) => group.toLowerCase().replace(/^0+(?=.)/, ''));
}

/** Set by apps/web/server.mjs to the socket's address; a client's own copy never survives it. */
export const peerHeader = 'x-cider-peer';

/** The caller's address bucket for throttling; see the header comment for how far it can be trusted. */
export function clientAddress(req: Request, trustedProxyHops: number): string | undefined {
  const peer = req.headers.get(peerHeader) ?? undefined;
  if (trustedProxyHops === 0 && peer) return addressBucket(peer);
  return addressBucket(trustedEntry(entries(req.headers, 'x-forwarded-for'), trustedProxyHops));
}

/**
 * Whether the browser reached us over https: X-Forwarded-Proto from a trusted proxy, else the
 * request URL's scheme (which Next.js itself derives from X-Forwarded-Proto; trusting it can
 * only make cookies stricter, never weaker).
 */
export function isHttps(req: Request, trustedProxyHops: number): boolean {
  if (trustedProxyHops > 0) {
    const proto = trustedEntry(entries(req.headers, 'x-forwarded-proto'), trustedProxyHops);
    if (proto) return proto.toLowerCase() === 'https';
  }
  try {
    return new URL(req.url).protocol === 'https:';
  } catch {
    return false;
  }
}

/**
 * The host names (with port) this request may have been addressed to, for the Origin check:
 * Host, and X-Forwarded-Host for proxies that rewrite Host. Believing X-Forwarded-Host even
 * without a trusted proxy is safe here: the check stops other sites' pages, and a page can't put
 * that header on a cross-origin request without a CORS preflight, which we never approve.
 */
export function requestHosts(req: Request): string[] {
  const hosts = new Set<string>();
  for (const host of [...entries(req.headers, 'host'), ...entries(req.headers, 'x-forwarded-host')]) hosts.add(host.toLowerCase());
  return [...hosts];
}

/** The header the dashboard's proxy sets to the page a request asked for (path and query). */
export const requestedPathHeader = 'x-cider-path';

/**
 * Where to send someone after sign-in: the page they asked for, when it is a path of this site;
 * anything else (another origin, `//host`, a backslash trick, the sign-in page itself, an API
 * route, something overlong) is the overview.
 */
export function safeReturnPath(raw: string | null | undefined): string {
  if (!raw || raw.length > 2048) return '/';
  if (!raw.startsWith('/') || raw.startsWith('//') || raw.includes('\\') || /\s/.test(raw)) return '/';
  for (let i = 0; i < raw.length; i++) {
    const code = raw.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return '/';
  }
  const path = raw.split(/[?#]/, 1)[0]!;
  if (path === '/sign-in' || path.startsWith('/sign-in/') || path === '/api' || path.startsWith('/api/')) return '/';
  return raw;
}
