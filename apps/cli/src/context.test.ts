// `action`, the shape every registry and cache command runs in: results and errors on the right
// stream with the right exit code, closes always run (and a failing close never turns a finished
// command into a stack), and Ctrl-C handlers exist only while a command that asked for them runs.
import { OciError } from '@cider/oci';
import { Command } from 'commander';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { action, type ActionContext } from './context.ts';

class Exit extends Error {
  constructor(readonly code: number | undefined) {
    super(`exit ${code}`);
  }
}

describe('action (the CLI command wrapper)', () => {
  let stdout: string[];
  let stderr: string[];
  beforeEach(() => {
    stdout = [];
    stderr = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => (stdout.push(String(chunk)), true));
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => (stderr.push(String(chunk)), true));
    vi.spyOn(process, 'exit').mockImplementation((code) => {
      throw new Exit(typeof code === 'number' ? code : undefined);
    });
  });
  afterEach(() => vi.restoreAllMocks());

  /** Runs `cider [globals] try <arg>` with `body` as the action. */
  async function run(argv: string[], body: (ctx: ActionContext, arg: string) => Promise<void>): Promise<number | undefined> {
    const program = new Command('cider').option('--json').option('--plain-http').exitOverride();
    program.command('try <arg>').action(action(body));
    try {
      await program.parseAsync(['node', 'cider', ...argv]);
      return undefined;
    } catch (error) {
      if (error instanceof Exit) return error.code;
      throw error;
    }
  }

  it('prints the result as text, or as JSON with --json, and passes the arguments through', async () => {
    expect(await run(['try', 'one'], async (ctx, arg) => ctx.print({ arg }, `got ${arg}`))).toBeUndefined();
    expect(stdout).toEqual(['got one\n']);
    expect(await run(['--json', 'try', 'two'], async (ctx, arg) => ctx.print({ arg, json: ctx.json }, `got ${arg}`))).toBeUndefined();
    expect(stdout.at(-1)).toBe('{"arg":"two","json":true}\n');
  });

  it('exits 2 for bad input and 1 otherwise, with the message and no stack; in JSON on stdout with --json', async () => {
    expect(await run(['try', 'x'], () => Promise.reject(new OciError('INVALID_REFERENCE', 'Invalid reference "x"')))).toBe(2);
    expect(stderr).toEqual(['cider: Invalid reference "x"\n']);
    expect(await run(['--json', 'try', 'x'], () => Promise.reject(new Error('the registry is down')))).toBe(1);
    expect(JSON.parse(stdout.at(-1)!)).toEqual({ error: { code: 'ERROR', message: 'the registry is down' } });
  });

  it('closes what the command opened, last first, and a close that fails does not fail the command', async () => {
    const order: string[] = [];
    const code = await run(['try', 'x'], async (ctx) => {
      ctx.defer(() => order.push('first'));
      ctx.defer(() => Promise.reject(new Error('socket already gone')));
      ctx.defer(async () => {
        await new Promise((r) => setTimeout(r, 5));
        order.push('last');
      });
      ctx.print({}, 'done');
    });
    expect(code).toBeUndefined();
    expect(order).toEqual(['last', 'first']);
    expect(stdout).toEqual(['done\n']);
  });

  it('handles Ctrl-C only for a command that asked for the signal, and only while it runs', async () => {
    const before = process.listenerCount('SIGINT');
    let during = 0;
    await run(['try', 'x'], async (ctx) => {
      during = process.listenerCount('SIGINT');
      ctx.print({}, 'no signal asked for');
    });
    expect(during).toBe(before);

    const code = await run(['try', 'x'], async (ctx) => {
      const signal = ctx.signal;
      expect(process.listenerCount('SIGINT')).toBe(before + 1);
      // The handler action added (emitting SIGINT would also reach the test runner's own).
      const added = process.listeners('SIGINT').at(-1) as () => void;
      added();
      expect(signal.aborted).toBe(true);
      throw signal.reason;
    });
    expect(code).toBe(1);
    expect(stderr.at(-1)).toBe('cider: Interrupted; nothing half-written was left behind.\n');
    expect(process.listenerCount('SIGINT')).toBe(before);
  });
});
