// The headers every page carries. The Content-Security-Policy allows scripts only with this
// response's nonce (Next.js puts it on its own scripts when it finds it in the request's CSP,
// see proxy.ts); 'strict-dynamic' lets those scripts load the page's chunks. Styles allow inline
// because React writes style attributes (usage bars), which a nonce can't cover; injected styles
// can't run code. Fonts are local (@fontsource, served from /_next/static); the live updates
// (SSE) and tRPC calls go to our own origin.

export interface PageSecurityOptions {
  nonce: string;
  https: boolean;
  /** `next dev` needs eval for React's debugging; production never does. */
  development: boolean;
}

export function contentSecurityPolicy({ nonce, https, development }: PageSecurityOptions): string {
  return [
    "default-src 'self'",
    `script-src 'self' 'nonce-${nonce}' 'strict-dynamic'${development ? " 'unsafe-eval'" : ''}`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    // Only over https: on a plain-http install it would send every asset to an https port that isn't there.
    ...(https ? ['upgrade-insecure-requests'] : []),
  ].join('; ');
}

/** Two years, as browsers' preload lists expect; subdomains are left to their own servers. */
export const strictTransportSecurity = 'max-age=63072000';

