// Child processes of the fault suite (control, agents, web): their output goes to a log file per
// process and to a bounded list of timestamped lines, so a test can count what a process logged
// during an outage and a failure can show the end of each log.
import { createWriteStream, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { startProcess, type ManagedProcess } from '@cider/services';

export interface LogLine {
  at: number;
  text: string;
}

export interface Child {
  readonly name: string;
  readonly process: ManagedProcess;
  /** Every line it printed, with when (at most the last 20,000). */
  readonly lines: LogLine[];
  readonly logFile: string;
  alive(): boolean;
  /** How it ended, for failure messages. */
  exitDescription(): string;
  stop(): Promise<void>;
}

const maxLines = 20_000;

export function spawnChild(name: string, command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; logDir: string }): Child {
  const logFile = join(options.logDir, `${name}.log`);
  const file: WriteStream = createWriteStream(logFile, { flags: 'a' });
  const lines: LogLine[] = [];
  const managed = startProcess(command, args, { cwd: options.cwd, env: options.env });
  let partial = '';
  const take = (chunk: Buffer) => {
    file.write(chunk);
    const text = partial + chunk.toString('utf8');
    const parts = text.split('\n');
    partial = parts.pop() ?? '';
    const at = Date.now();
    for (const part of parts) if (part.trim()) lines.push({ at, text: part });
    if (lines.length > maxLines) lines.splice(0, lines.length - maxLines);
  };
  managed.child.stdout?.on('data', take);
  managed.child.stderr?.on('data', take);
  const alive = () => managed.child.exitCode === null && managed.child.signalCode === null;
  return {
    name,
    process: managed,
    lines,
    logFile,
    alive,
    exitDescription: () => (alive() ? 'running' : `exited (code ${managed.child.exitCode}, signal ${managed.child.signalCode}); last output:\n${managed.output().slice(-3_000)}`),
    async stop() {
      await managed.stop('SIGTERM', 10_000);
      await new Promise<void>((resolve) => file.end(resolve));
    },
  };
}

/** Lines of `child` printed in [from, to] whose text matches `pattern`. */
export function linesBetween(child: Child, from: number, to: number, pattern: RegExp): LogLine[] {
  return child.lines.filter((line) => line.at >= from && line.at <= to && pattern.test(line.text));
}

/** Polls `probe` every `intervalMs` until it returns a truthy value; the error names `what` and the last failure. */
export async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs: number, intervalMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (let attempt = 0; ; attempt++) {
    try {
      const value = await probe();
      if (value) return value;
      last = undefined;
    } catch (error) {
      last = error;
    }
    if (Date.now() >= deadline) {
      const reason = last instanceof Error ? `: ${last.message}` : last ? `: ${String(last)}` : '';
      throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s (${attempt + 1} tries) waiting for ${what}${reason}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
