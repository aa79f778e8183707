// The tRPC endpoint: queries and mutations (batched POST/GET; auth.* never batched), and the live
// event stream (SSE). The handler and its guards live in @cider/api/http; this file gives it the
// process's connections and the deployment's settings.
import { createTrpcHandler } from '@cider/api/http';
import { env } from '../../../../env.ts';
import { webMetrics } from '../../../../server/metrics.ts';
import { services } from '../../../../server/services.ts';

export const dynamic = 'force-dynamic';
export const runtime = 'nodejs';

let handler: ((req: Request) => Promise<Response>) | undefined;

function trpcHandler(): (req: Request) => Promise<Response> {
  if (handler) return handler;
  const config = env();
  handler = createTrpcHandler({
    endpoint: '/api/trpc',
    services,
    trustedProxyHops: config.CIDER_TRUST_PROXY,
    forceSecureCookies: config.CIDER_SECURE_COOKIES,
    observer: webMetrics(),
    authPolicy: { apiTokenExpiry: { defaultDays: config.CIDER_API_TOKEN_DEFAULT_DAYS, maxDays: config.CIDER_API_TOKEN_MAX_DAYS } },
    onError(path, error) {
      // Expected failures (bad input, unreachable registry) already carry a message for the user;
      // only unexpected ones need the server log, with their cause.
      if (error.code === 'INTERNAL_SERVER_ERROR') console.error(`tRPC ${path ?? '?'} failed:`, error.cause ?? error);
    },
  });
  return handler;
}

function handle(req: Request): Promise<Response> {
  return trpcHandler()(req);
}

export { handle as GET, handle as POST };
