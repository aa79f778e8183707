// The dashboard's configuration, parsed once from the environment. Parsing is lazy because
// `next build` imports route modules without a database to talk to.
import { z } from 'zod';

const webEnv = z.object({
  DATABASE_URL: z.string({ error: 'is required, e.g. postgresql://user@host:5432/cider' }).min(1),
  REDIS_URL: z.string().default('redis://127.0.0.1:6379'),
  CIDER_REDIS_PREFIX: z.string().min(1).default('cider'),
  CIDER_SECRET_KEY: z.string({ error: 'is required (it encrypts registry credentials): generate one with `openssl rand -base64 32`' }).min(1),
  /** 'true' marks the session cookie Secure; local runs are plain http, so it is off by default. */
  CIDER_SECURE_COOKIES: z
    .string()
    .optional()
    .transform((value) => value === 'true'),
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
