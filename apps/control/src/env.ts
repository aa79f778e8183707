// The control plane's configuration, parsed once from the environment.
import { readFileSync } from 'node:fs';
import { parseListen } from '@cider/protocol/metrics-endpoint';
import { serverTaskEnvShape } from '@cider/api/services';
import { z } from 'zod';

const number = (fallback: number) => z.coerce.number().int().positive().default(fallback);

export const controlEnv = z.object({
  DATABASE_URL: z.string({ error: 'is required, e.g. postgresql://user@host:5432/cider' }).min(1),
  REDIS_URL: z.string().default('redis://127.0.0.1:6379'),
  CIDER_REDIS_PREFIX: z.string().default('cider'),
  CIDER_SECRET_KEY: z.string({ error: 'is required (it encrypts registry credentials): generate one with `openssl rand -base64 32`' }).min(1),
  CIDER_CONTROL_HOST: z.string().default('127.0.0.1'),
  CIDER_CONTROL_PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  /** Pulls in flight across the fleet handled by this process (protects the registry). */
  CIDER_MAX_CONCURRENT_PULLS: number(50),
  /** Pulls in flight on one node at a time. */
  CIDER_MAX_PULLS_PER_NODE: number(2),
  CIDER_RECONCILE_INTERVAL_S: number(300),
  CIDER_REGISTRY_WATCH_INTERVAL_S: number(300),
  CIDER_HEARTBEAT_INTERVAL_S: number(15),
  /** A dispatched sync job with no word from its agent for this long is retried. */
  CIDER_SYNC_STALL_TIMEOUT_S: number(120),
  /** Nodes of a site each registry fetcher feeds by peers: a rollout to N nodes of a site has ceil(N / this) fetching from the registry. */
  CIDER_PEER_FANOUT: number(4),
  /** PEM files: with both, the gateway serves https and wss on its port. */
  CIDER_TLS_CERT: z.string().min(1).optional(),
  CIDER_TLS_KEY: z.string().min(1).optional(),
  /** Bearer token Prometheus sends for /metrics: on the gateway port (only with it), and on CIDER_METRICS_LISTEN when both are set. */
  CIDER_METRICS_TOKEN: z.preprocess(
    (value) => (value === '' ? undefined : value), // `${CIDER_METRICS_TOKEN:-}` in a compose file: unset
    z.string().min(16, 'must be at least 16 characters (e.g. `openssl rand -hex 24`)').max(512).optional(),
  ),
  /** host:port of a listener for /metrics alone (e.g. 127.0.0.1:9464); /metrics then is not on the gateway port. */
  CIDER_METRICS_LISTEN: z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (!value) return undefined;
      try {
        return parseListen(value);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    }),
  ...serverTaskEnvShape,
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type ControlEnv = z.infer<typeof controlEnv>;

const withTlsPair = controlEnv.refine((env) => !env.CIDER_TLS_CERT === !env.CIDER_TLS_KEY, {
  message: 'set both CIDER_TLS_CERT and CIDER_TLS_KEY (PEM files), or neither',
  path: ['CIDER_TLS_CERT'],
});

export function parseControlEnv(env: NodeJS.ProcessEnv = process.env): ControlEnv {
  const parsed = withTlsPair.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n');
    throw new Error(`The control plane's configuration is incomplete:\n${problems}`);
  }
  return parsed.data;
}

/** The certificate and key named by CIDER_TLS_CERT/CIDER_TLS_KEY, read once at start. */
export function readTlsFiles(env: Pick<ControlEnv, 'CIDER_TLS_CERT' | 'CIDER_TLS_KEY'>): { cert: Buffer; key: Buffer } | undefined {
  if (!env.CIDER_TLS_CERT || !env.CIDER_TLS_KEY) return undefined;
  const read = (variable: string, path: string) => {
    try {
      return readFileSync(path);
    } catch (error) {
      throw new Error(`${variable}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
    }
  };
  return { cert: read('CIDER_TLS_CERT', env.CIDER_TLS_CERT), key: read('CIDER_TLS_KEY', env.CIDER_TLS_KEY) };
}
