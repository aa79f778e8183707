import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from './ports.ts';
import { startProcess, which, type ManagedProcess } from './processes.ts';

/** How the test registry authenticates clients (distribution's `auth:` section). */
export type RegistryAuth =
  | { kind: 'none' }
  | { kind: 'htpasswd'; htpasswdFile: string }
  | { kind: 'token'; realm: string; service: string; issuer: string; rootCertBundle: string };

export interface RegistryOptions {
  /** Defaults to a free port on 127.0.0.1. */
  port?: number;
  /** Defaults to a fresh temporary directory, removed on stop. */
  storageDir?: string;
  auth?: RegistryAuth;
  /**
   * Runs it as a pull-through cache of another registry (distribution's `proxy:` section): it
   * serves that registry's content, fetching and keeping what it does not hold yet.
   */
  proxy?: { remoteUrl: string; username?: string; password?: string };
}

export interface RunningRegistry {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** `127.0.0.1:<port>`, as it appears in references. */
  host: string;
  port: number;
  storageDir: string;
  /** Stops it (SIGKILL: a crash) and removes its config; a `storageDir` passed in is kept, so a registry started again on it serves the same content. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

const candidates = ['docker-registry', 'registry'];

/** The CNCF distribution binary: Debian ships it as `docker-registry`, upstream as `registry`. */
export function registryBinary(): string {
  const configured = process.env.CIDER_REGISTRY_BIN;
  if (configured) return configured;
  for (const name of candidates) {
    const found = which(name);
    if (found) return found;
  }
  throw new Error(
    'No OCI registry binary found (looked for docker-registry and registry on PATH). ' +
      'Install it with `sudo apt-get install docker-registry`, or set REGISTRY_URL to a running registry.',
  );
}

function renderConfig(port: number, storageDir: string, auth: RegistryAuth, proxy: RegistryOptions['proxy']): string {
  const lines = [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${JSON.stringify(storageDir)}`,
    '  delete:',
    '    enabled: true',
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    '  headers:',
    '    X-Content-Type-Options: [nosniff]',
  ];
  if (auth.kind === 'htpasswd') {
    lines.push('auth:', '  htpasswd:', '    realm: cider-test', `    path: ${JSON.stringify(auth.htpasswdFile)}`);
  } else if (auth.kind === 'token') {
    lines.push(
      'auth:',
      '  token:',
      `    realm: ${JSON.stringify(auth.realm)}`,
      `    service: ${JSON.stringify(auth.service)}`,
      `    issuer: ${JSON.stringify(auth.issuer)}`,
      `    rootcertbundle: ${JSON.stringify(auth.rootCertBundle)}`,
    );
  }
  if (proxy) {
    lines.push('proxy:', `  remoteurl: ${JSON.stringify(proxy.remoteUrl)}`);
    if (proxy.username) lines.push(`  username: ${JSON.stringify(proxy.username)}`, `  password: ${JSON.stringify(proxy.password ?? '')}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Starts CNCF distribution on loopback with its own storage; `stop()` kills it and removes the storage. */
export async function startRegistry(options: RegistryOptions = {}): Promise<RunningRegistry> {
  const binary = registryBinary();
  const port = options.port ?? (await freePort());
  const workDir = await mkdtemp(join(tmpdir(), 'cider-registry-'));
  const storageDir = options.storageDir ?? join(workDir, 'storage');
  const configPath = join(workDir, 'config.yml');
  await writeFile(configPath, renderConfig(port, storageDir, options.auth ?? { kind: 'none' }, options.proxy));

  let registry: ManagedProcess | undefined = startProcess(binary, ['serve', configPath]);
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(`registry on ${url}`, async () => {
      if (registry?.child.exitCode !== null) {
        throw new Error(`registry exited: ${registry?.output().trim()}`);
      }
      const res = await fetch(`${url}/v2/`);
      await res.body?.cancel();
      return res.status === 200 || res.status === 401;
    });
  } catch (error) {
    await registry.stop('SIGKILL');
    await rm(workDir, { recursive: true, force: true });
    throw error;
  }
  return {
    url,
    host: `127.0.0.1:${port}`,
    port,
    storageDir,
    async stop(signal?: NodeJS.Signals) {
      await registry?.stop(signal);
      registry = undefined;
      await rm(workDir, { recursive: true, force: true });
    },
  };
}
