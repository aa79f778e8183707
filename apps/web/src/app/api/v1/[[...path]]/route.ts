// REST API v1 (`Authorization: Bearer cat_...`) and its OpenAPI document at /api/v1/openapi.json.
// The handler, made from the contract, lives in @cider/api/rest; this file gives it the process's
// connections and the deployment's settings.
import { createRestHandler } from '@cider/api/rest';
import { env } from '../../../../env.ts';
import { webMetrics } from '../../../../server/metrics.ts';
import { services } from '../../../../server/services.ts';

export const dynamic = 'force-dynamic';
export const runtime = 'nodejs';

let handler: ((req: Request) => Promise<Response>) | undefined;

function restHandler(): (req: Request) => Promise<Response> {
  if (handler) return handler;
  const config = env();
  handler = createRestHandler({
    basePath: '/api/v1',
    services,
    trustedProxyHops: config.CIDER_TRUST_PROXY,
    observer: webMetrics(),
    authPolicy: { apiTokenExpiry: { defaultDays: config.CIDER_API_TOKEN_DEFAULT_DAYS, maxDays: config.CIDER_API_TOKEN_MAX_DAYS } },
    onError(operation, error) {
      // Expected failures carry their message to the caller; only unexpected ones need the log.
      console.error(`REST ${operation} failed:`, error);
    },
  });
  return handler;
}

function handle(req: Request): Promise<Response> {
  return restHandler()(req);
}

export { handle as GET, handle as POST, handle as PUT, handle as PATCH, handle as DELETE, handle as HEAD };
