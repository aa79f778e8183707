// Where `cider fleet` finds its server and API token: --server or CIDER_SERVER, and CIDER_TOKEN,
// else the file `cider fleet login` wrote ($XDG_CONFIG_HOME/cider/fleet.json, or
// ~/.config/cider/fleet.json; mode 0600). The stored token is sent only to the server it was
// stored for, so pointing --server elsewhere never hands it to another host.
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { FleetClient, parseServer } from './client.ts';
import { FleetError } from './errors.ts';

export interface StoredLogin {
  server: string;
  token: string;
}

export interface FleetOptions {
  server?: string;
  json?: boolean;
}

export function loginFile(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME?.trim() || join(homedir(), '.config');
  return join(base, 'cider', 'fleet.json');
}

export async function readLogin(file = loginFile()): Promise<StoredLogin | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new FleetError('USAGE', `Cannot read ${file} (${(error as Error).message}).`);
  }
  try {
    const parsed = JSON.parse(text) as Partial<StoredLogin>;
    if (typeof parsed.server === 'string' && typeof parsed.token === 'string' && parsed.token) return { server: parsed.server, token: parsed.token };
  } catch {
    // Unreadable as JSON: the same advice as a file without a login in it.
  }
  throw new FleetError('USAGE', `${file} does not hold a login: run cider fleet login again (or delete the file).`);
}

/** Writes the login readable by its owner only: a new file is created 0600 and renamed into place. */
export async function writeLogin(login: StoredLogin, file = loginFile()): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    await writeFile(temporary, `${JSON.stringify(login, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    await chmod(temporary, 0o600);
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    throw new FleetError('USAGE', `Cannot store the login in ${file} (${(error as Error).message}).`);
  }
}

export async function removeLogin(file = loginFile()): Promise<boolean> {
  const existed = (await readLogin(file).catch(() => 'unreadable')) !== undefined;
  await rm(file, { force: true });
  return existed;
}

const sameServer = (a: string, b: string) => parseServer(a).href === parseServer(b).href;

/** The server named by the flag, the environment or the login file. */
export async function resolveServer(options: FleetOptions, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const named = options.server?.trim() || env.CIDER_SERVER?.trim();
  if (named) return parseServer(named).href;
  const stored = await readLogin(loginFile(env));
  if (stored) return stored.server;
  throw new FleetError('NO_SERVER', 'No Cider Fleet server given: pass --server https://cider.example.com, set CIDER_SERVER, or run cider fleet login.');
}

/** A client for the server and token in effect, or a clear error saying how to give them. */
export async function fleetClientFor(options: FleetOptions, env: NodeJS.ProcessEnv = process.env): Promise<FleetClient> {
  const server = await resolveServer(options, env);
  const fromEnv = env.CIDER_TOKEN?.trim();
  if (fromEnv) return new FleetClient({ server, token: fromEnv, tokenSource: 'CIDER_TOKEN' });
  const file = loginFile(env);
  const stored = await readLogin(file);
  if (stored && sameServer(stored.server, server)) return new FleetClient({ server, token: stored.token, tokenSource: file });
  const hint = stored ? ` (the login in ${file} is for ${stored.server})` : '';
  throw new FleetError('NO_TOKEN', `No API token for ${server}${hint}: run cider fleet login, or set CIDER_TOKEN to an API token (Cider Fleet -> Settings -> API tokens).`);
}
