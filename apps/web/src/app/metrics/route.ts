// Prometheus' scrape target: tRPC requests, errors and latency per procedure, and the process's
// own metrics (server/metrics.ts). Behind CIDER_METRICS_TOKEN; off without it.
import { metricsToken } from '../../env.ts';
import { serveMetrics, webMetrics } from '../../server/metrics.ts';

export const dynamic = 'force-dynamic';
export const runtime = 'nodejs';

export async function GET(req: Request): Promise<Response> {
  let token: string | undefined;
  try {
    token = metricsToken();
  } catch (error) {
    // A misconfiguration, said to the operator looking at the scrape target (the token is not in it).
    return new Response(`${(error as Error).message}\n`, { status: 500, headers: { 'content-type': 'text/plain; charset=utf-8' } });
  }
  return serveMetrics(req, webMetrics(), token);
}
