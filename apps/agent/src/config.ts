// The agent's identity and settings, in a JSON file only its owner can read (0600): it holds
// the node secret.
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
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

/** Written to a temporary file with mode 0600 first, then renamed: never readable by others, never half-written. */
export async function writeAgentConfig(path: string, config: AgentConfig): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, path);
}
