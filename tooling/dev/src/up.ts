// `npm run up`: the whole system locally until Ctrl-C.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startStack } from './stack.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const env = process.env;

try {
  const stack = await startStack({
    root,
    dataDir: env.CIDER_DATA_DIR ?? join(root, '.cider'),
    databaseUrl: env.DATABASE_URL,
    redisUrl: env.REDIS_URL,
    registryUrl: env.REGISTRY_URL,
    redisPrefix: env.CIDER_REDIS_PREFIX,
    webPort: env.PORT ? Number(env.PORT) : 3000,
  });
  const line = '-'.repeat(72);
  console.log(`\n${line}
  Cider Fleet is up.

  Dashboard      ${stack.webUrl}
  Sign in as     ${stack.adminEmail}
  Password       ${stack.adminPassword}
  Registry       ${stack.registryHost}   (demo image: ${stack.seed.demoReference})
  Control plane  ${stack.controlUrl}
  Demo agents    ${stack.nodes.join(', ')}
  Enroll a Mac   cider-agent enroll --server ${stack.controlUrl} --token ${stack.seed.enrollmentToken}

  Try it: add the registry ${stack.registryHost} (plain HTTP), create a project,
  and pin ${stack.seed.demoReference}.   Ctrl-C stops everything.
${line}\n`);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    console.log('\nstopping...');
    await stack.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
} catch (error) {
  console.error(`\ncider up failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
