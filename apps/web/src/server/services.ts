// One set of connections (PostgreSQL pool, Redis, the event subscription) per server process.
// Kept on globalThis so `next dev` hot reloads reuse it instead of leaking connections.
// Enqueueing is best-effort here: a change a request committed never fails because Redis is
// down; the control plane's reconcile rebuilds the job from PostgreSQL. Registry calls retry
// briefly: a person is waiting.
import { createServiceDeps } from '@cider/api';
import { ociTaskRunners, serverTaskConfigFromEnv } from '@cider/api/services';
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
      // A request that asks a registry (resolving a pin, listing tags) answers within a few
      // seconds when the registry is down, instead of retrying for as long as an agent's pull would.
      registryClientOptions: { retry: { retries: 2, baseDelayMs: 200, maxDelayMs: 1_000 } },
      // The Apple catalog query and the bundle download run here; the tasks themselves in control.
      tasks: serverTaskConfigFromEnv(config, ociTaskRunners()),
    });
  }
  return holder.__ciderWebServices;
}
