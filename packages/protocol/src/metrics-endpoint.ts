// Serving Prometheus' /metrics, shared by the control plane and the agent (which have no other
// package in common that speaks HTTP): on a port that already serves something else, behind a
// bearer token, or on a listener of its own (CIDER_METRICS_LISTEN, CIDER_AGENT_METRICS_LISTEN),
// with the token checked there too when one is set. A scrape answers 200 with the text, or says
// what is wrong; no metrics library in here, the caller brings the text.
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

/** The part of a logger this needs (pino's). */
export interface MetricsLog {
  error(details: object, message: string): void;
}

export const metricsPath = '/metrics';

export interface MetricsSource {
  scrape(): Promise<string>;
  readonly contentType: string;
}

export interface MetricsEndpoint {
  /** Answers a request for /metrics (any other path is the caller's to answer). */
  serve(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

const digest = (text: string) => createHash('sha256').update(text).digest();

/** Whether `authorization` carries the token (compared in constant time). */
export function bearerMatches(authorization: string | undefined, token: string): boolean {
  const given = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
  return given !== undefined && timingSafeEqual(digest(given), digest(token));
}

export function metricsEndpoint(source: MetricsSource, options: { token?: string | undefined; log: MetricsLog }): MetricsEndpoint {
  return {
    async serve(req, res) {
      const answer = (status: number, body: string, headers: Record<string, string> = {}) => {
        if (res.headersSent) return void res.destroy();
        res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...headers });
        res.end(req.method === 'HEAD' ? undefined : body);
      };
      if (req.method !== 'GET' && req.method !== 'HEAD') return answer(405, 'Method not allowed\n', { allow: 'GET, HEAD' });
      if (options.token && !bearerMatches(req.headers.authorization, options.token)) {
        return answer(401, 'Unauthorized: send Authorization: Bearer <CIDER_METRICS_TOKEN>\n', { 'www-authenticate': 'Bearer realm="metrics"' });
      }
      try {
        answer(200, await source.scrape(), { 'content-type': source.contentType });
      } catch (error) {
        options.log.error({ err: error }, 'metrics scrape failed');
        answer(500, 'The metrics could not be collected; see the log.\n');
      }
    },
  };
}

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/** A listener of its own that answers /metrics only. */
export async function startMetricsServer(endpoint: MetricsEndpoint, listen: { host: string; port: number }, log: MetricsLog): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    const handled = path === metricsPath ? endpoint.serve(req, res) : Promise.resolve(void res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found: metrics are at /metrics\n'));
    handled.catch((error: unknown) => {
      log.error({ err: error }, 'metrics request failed');
      res.destroy();
    });
  });
  server.headersTimeout = 15_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (error) => log.error({ err: error }, 'metrics server error'));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : listen.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** `host:port` or `[v6]:port` or `:port` (all interfaces) as given in CIDER_METRICS_LISTEN. */
export function parseListen(value: string): { host: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(value.trim());
  const port = Number(match?.[3]);
  if (!match || !Number.isInteger(port) || port > 65535) throw new Error(`expected host:port (e.g. 127.0.0.1:9464 or [::1]:9464), got "${value.slice(0, 100)}"`);
  return { host: match[1] ?? (match[2] || '0.0.0.0'), port };
}
