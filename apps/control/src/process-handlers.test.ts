// The last-resort handlers, seen from outside a real process: an unhandled rejection is logged
// and the process keeps running; an uncaught exception is logged, closing runs, and the process
// exits 1 so a supervisor restarts it.
import { fileURLToPath } from 'node:url';
import { startProcess } from '@cider/services';
import { describe, expect, it } from 'vitest';

const fixture = fileURLToPath(new URL('../testing/crashing-process.ts', import.meta.url));
const root = fileURLToPath(new URL('../../../', import.meta.url));

describe('process-level handlers (a real process)', () => {
  it('logs a rejection and keeps running; logs an exception, closes and exits 1', async () => {
    const proc = startProcess(process.execPath, ['--import', 'tsx', fixture], { cwd: root });
    const code = await new Promise<number | null>((resolve) => proc.child.on('exit', resolve));
    const lines = proc
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: number; msg: string; err?: { message: string } });
    expect(code).toBe(1);
    expect(lines.map((l) => l.msg)).toEqual([
      'unhandled promise rejection; the control plane keeps running',
      'still running after the rejection',
      'uncaught exception; closing and exiting so a supervisor restarts the control plane',
      'closed what could be closed',
    ]);
    expect(lines[0]!.err?.message).toBe('a rejection nobody waited for');
    expect(lines[2]).toMatchObject({ level: 60, err: { message: 'a bug that throws' } });
  });
});
