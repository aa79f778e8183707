import { DockerConfigCredentials, isOciError, OciError, RegistryClient, type RegistryClientOptions } from '@cider/oci';
import type { Command } from 'commander';
import { createProgress, type Progress } from './progress.ts';

export interface GlobalOptions {
  plainHttp?: boolean;
  json?: boolean;
}

/** A client using the credentials `cider login` (or `docker login`) stored; `extra` may replace them. */
export function clientFor(options: GlobalOptions, extra: Partial<RegistryClientOptions> = {}): RegistryClient {
  return new RegistryClient({ plainHttp: options.plainHttp === true, credentials: new DockerConfigCredentials(), ...extra });
}

/** Prints a clean error (never a stack) and exits: 2 for bad input, 1 otherwise. */
export function fail(error: unknown, json = false): never {
  const message = error instanceof Error ? error.message : String(error);
  const code = isOciError(error) ? error.code : 'ERROR';
  if (json) process.stdout.write(`${JSON.stringify({ error: { code, message } })}\n`);
  else process.stderr.write(`cider: ${message}\n`);
  process.exit(isOciError(error, 'INVALID_REFERENCE') || isOciError(error, 'INVALID_DIGEST') || isOciError(error, 'INVALID_IMAGE') ? 2 : 1);
}

export function output(json: boolean, value: unknown, text: string): void {
  process.stdout.write(json ? `${JSON.stringify(value)}\n` : `${text}\n`);
}

/** What a registry or cache command is given (see `action`); `cider fleet` has its own (fleetAction). */
export interface ActionContext {
  json: boolean;
  globals: GlobalOptions;
  /** A registry client with the stored credentials (or `extra`'s), closed when the command ends. */
  client(extra?: Partial<RegistryClientOptions>): RegistryClient;
  /** A bar on a terminal, lines on a pipe, nothing with --json; stopped before the result or an error prints. */
  progress(label: string): Progress;
  /**
   * Aborted by Ctrl-C or SIGTERM. Only a command that asks for it handles those signals (the
   * work stops cleanly, removing what it half-wrote); any other command dies on them as usual.
   */
  readonly signal: AbortSignal;
  /** Runs `close` when the command ends, last deferred first. */
  defer(close: () => unknown): void;
  /** The result on stdout (JSON with --json), once any progress has stopped. */
  print(value: unknown, text: string): void;
}

/**
 * One shape for every registry and cache command: the global options read once, a client and
 * progress made on demand and always closed, and any error printed cleanly with its exit code
 * (2 for bad input, 1 otherwise; never a stack).
 */
export function action<Args extends unknown[]>(run: (ctx: ActionContext, ...args: Args) => Promise<void>) {
  return async (...args: unknown[]): Promise<void> => {
    const command = args.at(-1) as Command;
    const globals = command.optsWithGlobals<GlobalOptions>();
    const json = globals.json === true;
    const closes: (() => unknown)[] = [];
    const bars: Progress[] = [];
    const stopBars = () => {
      for (const bar of bars.splice(0)) bar.stop();
    };
    let controller: AbortController | undefined;
    const onSignal = () => controller?.abort(new Error('Interrupted; nothing half-written was left behind.'));
    const ctx: ActionContext = {
      json,
      globals,
      client(extra) {
        const client = clientFor(globals, extra);
        closes.push(() => client.close());
        return client;
      },
      progress(label) {
        const bar = createProgress({ json, label });
        bars.push(bar);
        return bar;
      },
      get signal() {
        if (!controller) {
          controller = new AbortController();
          process.once('SIGINT', onSignal);
          process.once('SIGTERM', onSignal);
          closes.push(() => {
            process.off('SIGINT', onSignal);
            process.off('SIGTERM', onSignal);
          });
        }
        return controller.signal;
      },
      defer: (close) => void closes.push(close),
      print(value, text) {
        stopBars();
        output(json, value, text);
      },
    };
    try {
      await run(ctx, ...(args.slice(0, -1) as Args));
    } catch (error) {
      stopBars();
      fail(error, json);
    } finally {
      stopBars();
      // A close that fails (a socket already gone) must not turn a done command into a stack trace.
      for (const close of closes.reverse()) await Promise.resolve().then(close).catch(() => undefined);
    }
  };
}

/** `--annotation key=value` options as a map. */
export function parseAnnotations(values: string[]): Record<string, string> {
  const result: Record<string, string> = {};
  for (const value of values) {
    const eq = value.indexOf('=');
    if (eq < 1) throw new OciError('INVALID_MANIFEST', `--annotation ${value}: use key=value`);
    result[value.slice(0, eq)] = value.slice(eq + 1);
  }
  return result;
}
