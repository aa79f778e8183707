// One set of connections (PostgreSQL pool, Redis, the event subscription) per server process.
// Kept on globalThis so `next dev` hot reloads reuse it instead of leaking connections.
// Enqueueing is best-effort here: a change a request committed never fails because Redis is
// down; the control plane's reconcile rebuilds the job from PostgreSQL.
import { createServiceDeps } from '@cider/api';
import { env } from '../env.ts';

type Services = ReturnType<typeof createServiceDeps>;

const holder = globalThis as typeof globalThis & { __ciderWebServices?: Services };

export function services(): Services {
  if (!holder.__ciderWebServices) {
    const config = env();
    holder.__ciderWebServices = createServiceDeps({
      databaseUrl: config.DATABASE_URL,
      redisUrl: config.REDIS_URL,
      redisPrefix: config.CIDER_REDIS_PREFIX,
      secretKey: config.CIDER_SECRET_KEY,
      enqueue: 'best-effort',
    });
  }
  return holder.__ciderWebServices;
}
