// What the benchmarks share: a command timed under GNU time (wall seconds and peak RSS), medians,
// fresh directories and a synced disk between runs, so each tool starts from the same state.
import { execFileSync, spawn } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { loadavg } from 'node:os';

export interface Measured {
  seconds: number;
  peakRssMB?: number;
  /** 1-minute load average just before the run. */
  load?: number;
}

export function requireTool(command: string, hint: string): void {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
  } catch {
    throw new Error(`${command} is needed for the benchmark: ${hint}`);
  }
}

/** Runs a command under GNU time; returns wall seconds and peak RSS. */
export function timed(command: string, commandArgs: string[], options: { killWhen?: () => boolean } = {}): Promise<Measured & { killed: boolean }> {
  return new Promise((resolve, reject) => {
    const load = loadavg()[0];
    const proc = spawn('/usr/bin/time', ['-f', '@@time %e %M', command, ...commandArgs], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    let killed = false;
    const watcher = options.killWhen
      ? setInterval(() => {
          if (!killed && options.killWhen!()) {
            killed = true;
            // GNU time's child is the tool; kill the whole group so the tool dies, not just time.
            execFileSync('pkill', ['-KILL', '-P', String(proc.pid)]);
          }
        }, 20)
      : undefined;
    proc.on('exit', (code) => {
      clearInterval(watcher);
      const match = /@@time ([\d.]+) (\d+)/.exec(stderr);
      if (!killed && (code !== 0 || !match)) {
        reject(new Error(`${command} ${commandArgs.join(' ')} failed (${code}):\n${stderr.slice(-2000)}`));
        return;
      }
      resolve({ seconds: match ? Number(match[1]) : Number.NaN, peakRssMB: match ? Number(match[2]) / 1024 : undefined, load, killed });
    });
  });
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

export async function fresh(dir: string): Promise<string> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  return dir;
}

export function syncDisks(): void {
  execFileSync('sync');
}
