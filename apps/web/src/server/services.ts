// One set of connections (PostgreSQL pool, Redis, the event subscription) per server process.
// Kept on globalThis so `next dev` hot reloads reuse it instead of leaking connections.
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
    });
  }
  return holder.__ciderWebServices;
}
