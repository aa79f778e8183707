// The agent talks to the control plane over TLS: its enrollment token, its node secret and its
// registry grants cross that connection. Plain http:// and ws:// are accepted for loopback only
// (a control plane on this machine, tests, `npm run up`), or when the admin said --insecure at
// enroll (stored in the config, so `run` honours it too).
import { isIP } from 'node:net';

export class InsecureServerError extends Error {
  override name = 'InsecureServerError';
}

/** localhost, 127.0.0.0/8 and ::1 (also ::ffff:127.x.y.z). */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || /^::ffff:127\./.test(host);
  return false;
}

/** Throws unless `server` is https://, or http:// to loopback, or `insecure` was chosen. */
export function assertSecureServer(server: string, insecure: boolean | undefined): URL {
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new InsecureServerError(`"${server}" is not a URL; give the control plane's address, e.g. https://cider.example.com:4000`);
  }
  if (url.protocol === 'https:' || url.protocol === 'wss:') return url;
  if (url.protocol !== 'http:' && url.protocol !== 'ws:') {
    throw new InsecureServerError(`The control plane address must be https:// (got ${url.protocol}//).`);
  }
  if (insecure || isLoopbackHost(url.hostname)) return url;
  throw new InsecureServerError(
    `Refusing ${url.protocol}//${url.host}: without TLS the enrollment token, the node secret and registry grants would cross the network in clear. ` +
      'Use https:// (the control plane serves TLS with CIDER_TLS_CERT/CIDER_TLS_KEY), or pass --insecure to enroll if you accept that.',
  );
}
