// The dashboard's configuration, parsed once from the environment. Parsing is lazy because
// `next build` imports route modules without a database to talk to.
import { parseTrustProxy } from '@cider/api/request-facts';
import { serverTaskEnvShape } from '@cider/api/services';
import { z } from 'zod';

const days = (name: string, fallback: number) =>
  z.coerce
    .number({ error: `${name} must be a number of days` })
    .int(`${name} must be a whole number of days`)
    .min(1, `${name} must be at least 1`)
    .max(3650, `${name} can be at most 3650`)
    .default(fallback);

/** CIDER_TRUST_PROXY: how many reverse proxies stand in front (true = 1), whose X-Forwarded-* count. */
const trustProxy = z
  .string()
  .optional()
  .transform((value, ctx) => {
    try {
      return parseTrustProxy(value);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
      return z.NEVER;
    }
  });

const webEnv = z.object({
  DATABASE_URL: z.string({ error: 'is required, e.g. postgresql://user@host:5432/cider' }).min(1),
  REDIS_URL: z.string().default('redis://127.0.0.1:6379'),
  CIDER_REDIS_PREFIX: z.string().min(1).default('cider'),
  CIDER_SECRET_KEY: z.string({ error: 'is required (it encrypts registry credentials): generate one with `openssl rand -base64 32`' }).min(1),
  /** 'true' marks the session cookie Secure always; without it, Secure whenever the request came over https. */
  CIDER_SECURE_COOKIES: z
    .string()
    .optional()
    .transform((value) => value === 'true'),
  CIDER_TRUST_PROXY: trustProxy,
  CIDER_API_TOKEN_DEFAULT_DAYS: days('CIDER_API_TOKEN_DEFAULT_DAYS', 90),
  CIDER_API_TOKEN_MAX_DAYS: days('CIDER_API_TOKEN_MAX_DAYS', 365),
  ...serverTaskEnvShape,
}).refine((env) => env.CIDER_API_TOKEN_DEFAULT_DAYS <= env.CIDER_API_TOKEN_MAX_DAYS, {
  message: 'CIDER_API_TOKEN_DEFAULT_DAYS cannot be more than CIDER_API_TOKEN_MAX_DAYS',
  path: ['CIDER_API_TOKEN_DEFAULT_DAYS'],
});

export type WebEnv = z.infer<typeof webEnv>;

let parsed: WebEnv | undefined;

export function env(): WebEnv {
  if (parsed) return parsed;
  const result = webEnv.safeParse(process.env);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n');
    throw new Error(`The web dashboard's configuration is incomplete:\n${problems}`);
  }
  parsed = result.data;
  return parsed;
}

const metricsTokenSchema = z
  .string()
  .min(16, 'CIDER_METRICS_TOKEN must be at least 16 characters (e.g. `openssl rand -hex 24`)')
  .max(512, 'CIDER_METRICS_TOKEN can be at most 512 characters')
  .optional();

/**
 * CIDER_METRICS_TOKEN, the bearer token /metrics asks for (unset: /metrics is off). Read apart from
 * env(): a scrape needs no database settings. A token too short to guess safely is refused loudly.
 */
export function metricsToken(): string | undefined {
  const parsed = metricsTokenSchema.safeParse(process.env.CIDER_METRICS_TOKEN || undefined);
  if (!parsed.success) throw new Error(parsed.error.issues.map((i) => i.message).join('; '));
  return parsed.data;
}

/**
 * Just the proxy setting, for proxy.ts (security headers): it runs on every request, including
 * /healthz, and must not need the database settings to answer.
 */
export function trustedProxyHops(): number {
  return parseTrustProxy(process.env.CIDER_TRUST_PROXY);
}
