// The agent's identity and settings, in a JSON file only its owner can read (0600): it holds
// the node secret.
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { publicKeyPattern } from '@cider/protocol';
import { z } from 'zod';

export const agentConfig = z.object({
  /** Control plane base URL, e.g. https://cider.example.com:4000 */
  server: z.string().url(),
  nodeId: z.string(),
  nodeName: z.string(),
  secret: z.string(),
  /** The node's X25519 key pair (raw keys, base64url): registry grants arrive sealed to it. */
  publicKey: z.string().regex(publicKeyPattern),
  privateKey: z.string().regex(publicKeyPattern),
  cacheDir: z.string(),
  /** Evict unpinned images (least recently used first) above this many bytes. */
  quotaBytes: z.number().int().positive().optional(),
  /** Chosen at enroll (--insecure): plain http/ws to a control plane that is not on loopback. */
  insecure: z.boolean().optional(),
});
export type AgentConfig = z.infer<typeof agentConfig>;

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

/** Where the config lives: system-wide for a daemon running as root, per user otherwise. */
export function defaultConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CIDER_AGENT_CONFIG) return env.CIDER_AGENT_CONFIG;
  if (process.platform === 'darwin') {
    return isRoot() ? '/Library/Application Support/Cider/agent.json' : join(homedir(), 'Library/Application Support/Cider/agent.json');
  }
  return isRoot() ? '/etc/cider/agent.json' : join(homedir(), '.config/cider/agent.json');
}

export function defaultCacheDir(): string {
  if (process.platform === 'darwin') return isRoot() ? '/Library/Caches/Cider' : join(homedir(), 'Library/Caches/Cider');
  return isRoot() ? '/var/lib/cider/cache' : join(homedir(), '.cache/cider');
}

export async function readAgentConfig(path: string): Promise<AgentConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(`No agent config at ${path}. Enroll this Mac first: cider-agent enroll --server <control URL> --token <enrollment token>`);
    }
    throw error;
  }
  const parsed = agentConfig.safeParse(JSON.parse(text));
  if (!parsed.success) throw new Error(`The agent config at ${path} is invalid: ${parsed.error.issues.map((i) => i.path.join('.')).join(', ')}. Enroll again.`);
  return parsed.data;
}

/**
 * Written to a new temporary file with mode 0600 first (O_EXCL: never through a link left at
 * that name), synced, then renamed: never readable by others, never half-written.
 */
export async function writeAgentConfig(path: string, config: AgentConfig): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const handle = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0), 0o600);
  try {
    await handle.writeFile(`${JSON.stringify(config, null, 2)}\n`);
    await handle.chmod(0o600);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(tmp, { force: true });
    throw error;
  } finally {
    await handle.close().catch(() => {});
  }
  await rename(tmp, path);
}
