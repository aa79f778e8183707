// Runs `cider` as a user does (a real process: node with tsx on the sources, or a build), for tests:
// its exit code, output and, on Linux, its peak RSS (./peak-rss.mjs).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const entry = fileURLToPath(new URL('../cider.ts', import.meta.url));
const rssHook = fileURLToPath(new URL('./peak-rss.mjs', import.meta.url));

export interface CiderRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Peak resident memory in MB (undefined when the process was killed before it could say). */
  peakRssMB?: number;
  seconds: number;
}

/** Starts `cider <args>`; `onStart` gets the child (to kill it mid-way), `onStdout` each output chunk. */
export async function runCider(
  args: string[],
  options: { env?: Record<string, string>; onStart?: (child: ChildProcess) => void; onStderr?: (text: string) => void; /** A built cider.js to run instead of the sources (what users run: no tsx in memory). */ built?: string } = {},
): Promise<CiderRun> {
  const scratch = await mkdtemp(join(tmpdir(), 'cider-run-'));
  const rssFile = join(scratch, 'peak-rss');
  const started = Date.now();
  try {
    const run = await new Promise<Omit<CiderRun, 'peakRssMB' | 'seconds'>>((resolve) => {
      const program = options.built ? ['--import', rssHook, options.built] : ['--import', 'tsx', '--import', rssHook, entry];
      const child = spawn(process.execPath, [...program, ...args], {
        cwd: root,
        env: { ...process.env, ...options.env, CIDER_PEAK_RSS_FILE: rssFile },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        options.onStderr?.(d.toString());
      });
      child.stdin.end();
      child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr }));
      options.onStart?.(child);
    });
    const kb = Number(await readFile(rssFile, 'utf8').catch(() => ''));
    return { ...run, ...(kb > 0 ? { peakRssMB: kb / 1024 } : {}), seconds: (Date.now() - started) / 1000 };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/**
 * Builds the CLI as it ships (tsup: one self-contained file) into `dir`, without touching dist/.
 * Memory is measured on this: tsx compiling the sources in-process costs some 50 MB of its own.
 */
export async function buildCider(dir: string): Promise<string> {
  const cliDir = fileURLToPath(new URL('../../', import.meta.url));
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, [join(root, 'node_modules/tsup/dist/cli-default.js'), '--out-dir', dir], { cwd: cliDir, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`building the CLI failed: ${stderr}`))));
  });
  return join(dir, 'cider.js');
}
