// Credentials from docker's client config, so `cider` works wherever `docker login` (or
// `cider login`) has been run. Follows docker/cli's config/configfile and config/credentials:
//   $DOCKER_CONFIG/config.json (default ~/.docker/config.json)
//   auths        { "<server>": { auth: base64(user:pass), identitytoken?, registrytoken? } }
//   credHelpers  { "<server>": "<helper>" }   a helper for one registry
//   credsStore   "<helper>"                   the helper for every other registry
// Helpers speak docker-credential-helpers' protocol (./credential-helper.ts). Server keys may be
// written `host`, `https://host` or `http://host/v1/`; Docker Hub's is `https://index.docker.io/v1/`.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, realpath, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { OciError } from '../errors.ts';
import { dockerHubDomain } from '../reference.ts';
import {
  CredentialHelperError,
  helperErase,
  helperGet,
  helperProgram,
  helperStore,
  ProcessCredentialHelperRunner,
  type CredentialHelperRunner,
} from './credential-helper.ts';
import type { Credential, CredentialStore } from './credentials.ts';

/** Docker Hub's key in config.json and in credential helpers. */
export const dockerHubServerAddress = 'https://index.docker.io/v1/';
const dockerHubHosts = new Set([dockerHubDomain, 'index.docker.io', 'registry-1.docker.io']);

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
  registrytoken?: string;
}

/** The parts of config.json we use; every other key is kept as is when the file is rewritten. */
interface DockerConfigFile {
  auths?: Record<string, AuthEntry>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
  [key: string]: unknown;
}

/** config.json could not be read or written, or holds an entry we cannot use. */
export class DockerConfigError extends OciError {
  override name = 'DockerConfigError';
  constructor(
    readonly file: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('UNAUTHORIZED', message, options);
  }
}

/**
 * A registry as the user may type it (`https://host/`, `index.docker.io`) as a reference's
 * registry host (`host[:port]`, `docker.io`).
 */
export function normalizeRegistry(input: string): string {
  const host = input.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').split('/')[0]!.toLowerCase();
  return dockerHubHosts.has(host) ? dockerHubDomain : host;
}

/** The server address docker uses for a registry: Hub's legacy URL, otherwise the host. */
export function serverAddress(registry: string): string {
  const host = normalizeRegistry(registry);
  return host === dockerHubDomain ? dockerHubServerAddress : host;
}

/** The key under which `registry` is found in config.json, whichever of docker's spellings it uses. */
function findKey<T>(entries: Record<string, T> | undefined, registry: string): string | undefined {
  if (!entries) return undefined;
  const address = serverAddress(registry);
  if (Object.hasOwn(entries, address)) return address;
  const host = normalizeRegistry(registry);
  return Object.keys(entries).find((key) => normalizeRegistry(key) === host);
}

function matchingKeys<T>(entries: Record<string, T> | undefined, registry: string): string[] {
  const host = normalizeRegistry(registry);
  return Object.keys(entries ?? {}).filter((key) => normalizeRegistry(key) === host);
}

export interface DockerConfigOptions {
  /** The config.json to use. Default: $DOCKER_CONFIG/config.json, else ~/.docker/config.json. */
  configFile?: string;
  /** Where DOCKER_CONFIG is read from. Default: process.env. */
  env?: Record<string, string | undefined>;
  /** Runs credential helpers. Default: child processes found on PATH. */
  runner?: CredentialHelperRunner;
  /** Decides the default helper (osxkeychain on macOS). Default: process.platform. */
  platform?: NodeJS.Platform;
}

/** Where `store` put credentials, for telling the user. */
export type StoredIn = { kind: 'helper'; helper: string } | { kind: 'file'; file: string };

export function defaultDockerConfigFile(env: Record<string, string | undefined> = process.env): string {
  const dir = env.DOCKER_CONFIG || join(homedir(), '.docker');
  return join(dir, 'config.json');
}

export class DockerConfigCredentials implements CredentialStore {
  readonly configFile: string;
  private readonly runner: CredentialHelperRunner;
  private readonly platform: NodeJS.Platform;
  /** One lookup per registry: a helper is a process, and the transport asks before every request. */
  private readonly lookups = new Map<string, Promise<Credential | undefined>>();

  constructor(options: DockerConfigOptions = {}) {
    this.configFile = options.configFile ?? defaultDockerConfigFile(options.env);
    this.runner = options.runner ?? new ProcessCredentialHelperRunner();
    this.platform = options.platform ?? process.platform;
  }

  get(registry: string): Promise<Credential | undefined> {
    const host = normalizeRegistry(registry);
    let lookup = this.lookups.get(host);
    if (!lookup) {
      lookup = this.lookup(host);
      this.lookups.set(host, lookup);
      lookup.catch(() => this.lookups.delete(host));
    }
    return lookup;
  }

  /** Saves a username and password for `registry`: in its credential helper if one is configured, else in config.json. */
  async store(registry: string, username: string, password: string): Promise<StoredIn> {
    const config = await this.read();
    const helper = this.helperFor(config, registry);
    const address = serverAddress(registry);
    const auths = { ...config.auths };
    for (const key of matchingKeys(auths, registry)) delete auths[key];
    if (helper) {
      await this.helperStep(helper, registry, () => helperStore(this.runner, helper, address, username, password));
      // As docker does: an entry without secrets records that we are logged in there.
      auths[address] = {};
    } else {
      auths[address] = { auth: Buffer.from(`${username}:${password}`).toString('base64') };
    }
    await this.write({ ...config, auths });
    this.lookups.delete(normalizeRegistry(registry));
    return helper ? { kind: 'helper', helper } : { kind: 'file', file: this.configFile };
  }

  /** Forgets `registry`'s credentials (helper and config.json); true if there were any. */
  async erase(registry: string): Promise<boolean> {
    const config = await this.read();
    const helper = this.helperFor(config, registry);
    let removed = false;
    if (helper) removed = await this.helperStep(helper, registry, () => helperErase(this.runner, helper, serverAddress(registry)));
    const keys = matchingKeys(config.auths, registry);
    if (keys.length) {
      const auths = { ...config.auths };
      for (const key of keys) {
        if (auths[key]?.auth || auths[key]?.identitytoken || auths[key]?.registrytoken || auths[key]?.password) removed = true;
        delete auths[key];
      }
      await this.write({ ...config, auths });
    }
    this.lookups.delete(normalizeRegistry(registry));
    return removed;
  }

  private async lookup(registry: string): Promise<Credential | undefined> {
    const config = await this.read();
    const helper = this.helperFor(config, registry);
    if (helper) {
      const found = await this.helperStep(helper, registry, () => helperGet(this.runner, helper, serverAddress(registry)));
      if (found) return found;
    }
    const key = findKey(config.auths, registry);
    return key === undefined ? undefined : this.credentialOf(key, config.auths![key]!);
  }

  /** credHelpers for this registry, else credsStore, else osxkeychain on macOS when installed. */
  private helperFor(config: DockerConfigFile, registry: string): string | undefined {
    const key = findKey(config.credHelpers, registry);
    if (key !== undefined && config.credHelpers![key]) return config.credHelpers![key];
    if (config.credsStore) return config.credsStore;
    if (this.platform === 'darwin' && this.runner.exists('osxkeychain')) return 'osxkeychain';
    return undefined;
  }

  /** Runs a helper step, turning "not installed" into an error that says where the helper was named. */
  private async helperStep<T>(helper: string, registry: string, step: () => Promise<T>): Promise<T> {
    if (!this.runner.exists(helper)) {
      throw new CredentialHelperError(
        helper,
        `${this.configFile} says to use the credential helper "${helper}" for ${normalizeRegistry(registry)}, but ${helperProgram(helper)} is not installed (not found on PATH). Install it, or remove "${helper}" from credHelpers/credsStore in that file.`,
      );
    }
    return step();
  }

  private credentialOf(key: string, entry: AuthEntry): Credential | undefined {
    let username = entry.username ?? '';
    let password = entry.password ?? '';
    if (entry.auth) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) throw new DockerConfigError(this.configFile, `The "auth" of "${key}" in ${this.configFile} is not base64 of user:password. Log in again (cider login ${normalizeRegistry(key)}).`);
      username = decoded.slice(0, colon);
      password = decoded.slice(colon + 1);
    }
    if (entry.registrytoken) return { kind: 'registry-token', token: entry.registrytoken };
    if (entry.identitytoken) return username ? { kind: 'identity-token', token: entry.identitytoken, username } : { kind: 'identity-token', token: entry.identitytoken };
    if (!username && !password) return undefined;
    return { kind: 'basic', username, password };
  }

  private async read(): Promise<DockerConfigFile> {
    let text: string;
    try {
      text = await readFile(this.configFile, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw new DockerConfigError(this.configFile, `Cannot read ${this.configFile}: ${(error as Error).message}`, { cause: error });
    }
    if (text.trim() === '') return {};
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new DockerConfigError(this.configFile, `${this.configFile} is not valid JSON (${(error as Error).message}). Fix it or move it away.`, { cause: error });
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new DockerConfigError(this.configFile, `${this.configFile} should hold a JSON object. Fix it or move it away.`);
    }
    const config = parsed as DockerConfigFile;
    for (const field of ['auths', 'credHelpers'] as const) {
      const value = config[field];
      if (value !== undefined && (typeof value !== 'object' || value === null || Array.isArray(value))) {
        throw new DockerConfigError(this.configFile, `"${field}" in ${this.configFile} should be an object. Fix it or move the file away.`);
      }
    }
    return config;
  }

  /**
   * Replaces config.json atomically (write a temporary file beside it, then rename), readable
   * only by its owner: it may hold passwords. A symlinked config.json is followed, as docker does.
   */
  private async write(config: DockerConfigFile): Promise<void> {
    const target = await realpath(this.configFile).catch(() => this.configFile);
    const dir = dirname(target);
    const temp = join(dir, `.config.json.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const handle = await open(temp, 'wx', 0o600);
      try {
        await handle.writeFile(`${JSON.stringify(config, null, '\t')}\n`);
        await handle.chmod(0o600);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, target);
    } catch (error) {
      await rm(temp, { force: true });
      throw new DockerConfigError(this.configFile, `Cannot write ${this.configFile}: ${(error as Error).message}`, { cause: error });
    }
  }
}
