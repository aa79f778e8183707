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
    const messages = lines.map((l) => l.msg);
    expect(messages.slice(0, 2)).toEqual(['unhandled promise rejection; the control plane keeps running', 'still running after the rejection']);
    // The fatal line and closing's own line can reach the pipe in either order on a loaded machine
    // (seen with two vitest workers on 2 cores); what matters is that both happen, then exit 1.
    expect(messages.slice(2).sort()).toEqual(['closed what could be closed', 'uncaught exception; closing and exiting so a supervisor restarts the control plane']);
    expect(lines[0]!.err?.message).toBe('a rejection nobody waited for');
    expect(lines.find((l) => l.level === 60)).toMatchObject({ msg: 'uncaught exception; closing and exiting so a supervisor restarts the control plane', err: { message: 'a bug that throws' } });
  });
});
