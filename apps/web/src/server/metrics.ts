// The dashboard's Prometheus metrics: requests, errors and latency per tRPC procedure and REST v1
// operation, counted by @cider/api's observer (the dashboard's calls and the REST API's), plus the
// process's own. One registry per server process, kept on globalThis: Next.js may load the tRPC
// route and the /metrics route as separate bundles, and both must see the same counters.
import { createHash, timingSafeEqual } from 'node:crypto';
import { appRouter, type ProcedureCall, type ProcedureObserver } from '@cider/api';
import { operations } from '@cider/api/rest';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

/** Label for a path that is no procedure of the router (never echoed: callers choose paths). */
export const unknownProcedure = 'unknown';

export class WebMetrics implements ProcedureObserver {
  readonly registry = new Registry();
  private readonly procedures: ReadonlySet<string>;
  private readonly requests: Counter<'procedure' | 'type' | 'code' | 'via'>;
  private readonly duration: Histogram<'procedure' | 'type'>;

  constructor(procedures: Iterable<string> = [...Object.keys(appRouter._def.procedures), ...Object.keys(operations)]) {
    this.procedures = new Set(procedures);
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'cider_web_' });
    // prom-client names three gauges *_total, which Prometheus' conventions (and promtool) keep for counters.
    for (const name of ['active_handles_total', 'active_requests_total', 'active_resources_total']) this.registry.removeSingleMetric(`cider_web_nodejs_${name}`);
    this.requests = new Counter({
      name: 'cider_web_api_requests_total',
      help: 'API calls by procedure (a tRPC procedure, or a REST v1 operation id when via=rest), type, outcome (OK or the error code) and how they came (trpc: the dashboard endpoint, rest: the REST API)',
      labelNames: ['procedure', 'type', 'code', 'via'],
      registers,
    });
    this.duration = new Histogram({
      name: 'cider_web_api_request_duration_seconds',
      help: 'Time API calls took, by procedure (a tRPC procedure or a REST v1 operation id) and type',
      labelNames: ['procedure', 'type'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
  }

  called(call: ProcedureCall): void {
    const procedure = this.procedures.has(call.path) ? call.path : unknownProcedure;
    // A path outside the router means nothing ran: its type is the caller's guess, not a fact.
    const type = procedure === unknownProcedure ? 'unknown' : call.type;
    this.requests.inc({ procedure, type, code: call.code ?? 'OK', via: call.via });
    // A subscription's "duration" is only its start (its stream is not a request's latency), and a
    // call refused before any procedure ran has none.
    if (type !== 'subscription' && type !== 'unknown' && call.durationSeconds !== undefined) this.duration.observe({ procedure, type }, call.durationSeconds);
  }

  scrape(): Promise<string> {
    return this.registry.metrics();
  }
}

const holder = globalThis as typeof globalThis & { __ciderWebMetrics?: WebMetrics };

export function webMetrics(): WebMetrics {
  holder.__ciderWebMetrics ??= new WebMetrics();
  return holder.__ciderWebMetrics;
}

const digest = (text: string) => createHash('sha256').update(text).digest();

/**
 * GET /metrics: only with `Authorization: Bearer <CIDER_METRICS_TOKEN>`; without a token set the
 * endpoint is off (404), since the dashboard's port is the one people and the internet reach.
 */
export async function serveMetrics(req: Request, metrics: WebMetrics, token: string | undefined): Promise<Response> {
  const text = (status: number, body: string, headers: Record<string, string> = {}) =>
    new Response(body, { status, headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...headers } });
  if (!token) return text(404, 'Not found: metrics are off here (set CIDER_METRICS_TOKEN to serve them)\n');
  const given = /^Bearer\s+(\S+)$/i.exec(req.headers.get('authorization') ?? '')?.[1];
  if (given === undefined || !timingSafeEqual(digest(given), digest(token))) {
    return text(401, 'Unauthorized: send Authorization: Bearer <CIDER_METRICS_TOKEN>\n', { 'www-authenticate': 'Bearer realm="metrics"' });
  }
  try {
    return text(200, await metrics.scrape(), { 'content-type': metrics.registry.contentType });
  } catch (error) {
    console.error('metrics scrape failed:', error);
    return text(500, 'The metrics could not be collected; see the log.\n');
  }
}
