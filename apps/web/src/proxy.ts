// Runs before every page (Next 16's proxy, formerly middleware): a fresh CSP nonce per request,
// handed to Next.js through the request's own CSP header so it stamps its scripts with it, and
// HSTS when the browser came over https. Static headers for every response (nosniff, framing,
// referrer) and the API's CSP are in next.config.ts. It also tells pages which path was asked for.
import { isHttps, requestedPathHeader } from '@cider/api/request-facts';
import { NextResponse, type NextRequest } from 'next/server';
import { trustedProxyHops } from './env.ts';
import { contentSecurityPolicy, strictTransportSecurity } from './security-headers.ts';

export function proxy(request: NextRequest): NextResponse {
  const nonce = Buffer.from(crypto.getRandomValues(new Uint8Array(18))).toString('base64');
  const https = isHttps(request, trustedProxyHops());
  const policy = contentSecurityPolicy({ nonce, https, development: process.env.NODE_ENV === 'development' });
  const requestHeaders = new Headers(request.headers);
  requestHeaders.set('content-security-policy', policy);
  // The page asked for, so a visitor sent to sign in comes back to it (app/(app)/layout.tsx); set
  // here for every page, replacing whatever the client sent.
  requestHeaders.set(requestedPathHeader, `${request.nextUrl.pathname}${request.nextUrl.search}`);
  const response = NextResponse.next({ request: { headers: requestHeaders } });
  response.headers.set('content-security-policy', policy);
  if (https) response.headers.set('strict-transport-security', strictTransportSecurity);
  return response;
}

export const config = {
  // Pages only: API responses, health checks and metrics get their fixed headers from next.config.ts, and
  // static assets need no nonce.
  matcher: ['/((?!api/|healthz|metrics|_next/static|_next/image|icon).*)'],
};
