// docker-credential-helpers' protocol (github.com/docker/docker-credential-helpers, client/client.go):
//   docker-credential-<name> get     stdin: server URL        stdout: {"ServerURL","Username","Secret"}
//   docker-credential-<name> store   stdin: {"ServerURL","Username","Secret"}
//   docker-credential-<name> erase   stdin: server URL
// A helper that has nothing for the server exits non-zero and prints "credentials not found in
// native keychain" on stdout. A Username of "<token>" means Secret is an identity token.
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { OciError } from '../errors.ts';
import type { Credential } from './credentials.ts';

export type HelperAction = 'get' | 'store' | 'erase';

export interface HelperResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs credential helper programs; an interface so a host without them can still be tested. */
export interface CredentialHelperRunner {
  /** Runs `docker-credential-<helper> <action>` with `input` on stdin. Throws HelperMissingError if it is not installed. */
  run(helper: string, action: HelperAction, input: string): Promise<HelperResult>;
  /** Whether `docker-credential-<helper>` is installed. */
  exists(helper: string): boolean;
}

/** A credential helper could not be run, or answered something we cannot use. */
export class CredentialHelperError extends OciError {
  override name = 'CredentialHelperError';
  constructor(
    readonly helper: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('UNAUTHORIZED', message, options);
  }
}

export function helperProgram(helper: string): string {
  return `docker-credential-${helper}`;
}

/** Runs helpers as child processes found on `PATH` (the process's own unless given). */
export class ProcessCredentialHelperRunner implements CredentialHelperRunner {
  private readonly path: string;
  private readonly timeoutMs: number;

  /** `timeoutMs`: a keychain helper may wait for the user to unlock it, so the default is generous. */
  constructor(options: { path?: string; timeoutMs?: number } = {}) {
    this.path = options.path ?? process.env.PATH ?? '';
    this.timeoutMs = options.timeoutMs ?? 120_000;
  }

  private locate(helper: string): string | undefined {
    for (const dir of this.path.split(delimiter)) {
      if (!dir) continue;
      const candidate = join(dir, helperProgram(helper));
      try {
        accessSync(candidate, constants.X_OK);
        return candidate;
      } catch {
        // not in this directory
      }
    }
    return undefined;
  }

  exists(helper: string): boolean {
    return this.locate(helper) !== undefined;
  }

  run(helper: string, action: HelperAction, input: string): Promise<HelperResult> {
    const program = this.locate(helper);
    if (!program) {
      return Promise.reject(new CredentialHelperError(helper, `The credential helper ${helperProgram(helper)} is not installed (not found on PATH).`));
    }
    return new Promise((resolve, reject) => {
      const child = spawn(program, [action], { stdio: ['pipe', 'pipe', 'pipe'], timeout: this.timeoutMs, env: { ...process.env, PATH: this.path } });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      // A helper that exits without reading stdin makes the write fail with EPIPE; its exit status says more.
      child.stdin.on('error', () => {});
      child.on('error', (error) => reject(new CredentialHelperError(helper, `Cannot run ${program}: ${error.message}`, { cause: error })));
      child.on('close', (code, signal) => {
        if (signal) {
          reject(new CredentialHelperError(helper, `The credential helper ${helperProgram(helper)} ${signal === 'SIGTERM' ? `did not answer within ${this.timeoutMs / 1000} s` : `was killed (${signal})`}.`));
        } else {
          resolve({ exitCode: code ?? 1, stdout, stderr });
        }
      });
      child.stdin.end(input);
    });
  }
}

const notFoundMessage = 'credentials not found';

function failure(helper: string, action: HelperAction, serverUrl: string, result: HelperResult): CredentialHelperError {
  const said = (result.stdout.trim() || result.stderr.trim()).slice(0, 300) || `exit status ${result.exitCode}`;
  return new CredentialHelperError(helper, `The credential helper ${helperProgram(helper)} failed to ${action} credentials for ${serverUrl}: ${said}`);
}

/** `get`: the credential the helper holds for `serverUrl`, or undefined if it has none. */
export async function helperGet(runner: CredentialHelperRunner, helper: string, serverUrl: string): Promise<Credential | undefined> {
  const result = await runner.run(helper, 'get', serverUrl);
  if (result.exitCode !== 0) {
    if (result.stdout.toLowerCase().includes(notFoundMessage)) return undefined;
    throw failure(helper, 'get', serverUrl, result);
  }
  let parsed: { Username?: unknown; Secret?: unknown };
  try {
    parsed = JSON.parse(result.stdout) as typeof parsed;
  } catch {
    throw new CredentialHelperError(helper, `The credential helper ${helperProgram(helper)} answered "get" for ${serverUrl} with something that is not JSON.`);
  }
  const username = typeof parsed.Username === 'string' ? parsed.Username : '';
  const secret = typeof parsed.Secret === 'string' ? parsed.Secret : '';
  if (!secret) return undefined;
  if (username === '<token>') return { kind: 'identity-token', token: secret };
  return { kind: 'basic', username, password: secret };
}

/** `store`: saves a username and secret for `serverUrl`. */
export async function helperStore(runner: CredentialHelperRunner, helper: string, serverUrl: string, username: string, secret: string): Promise<void> {
  const result = await runner.run(helper, 'store', JSON.stringify({ ServerURL: serverUrl, Username: username, Secret: secret }));
  if (result.exitCode !== 0) throw failure(helper, 'store', serverUrl, result);
}

/** `erase`: forgets `serverUrl`; true if the helper had something to forget. */
export async function helperErase(runner: CredentialHelperRunner, helper: string, serverUrl: string): Promise<boolean> {
  const result = await runner.run(helper, 'erase', serverUrl);
  if (result.exitCode === 0) return true;
  if (result.stdout.toLowerCase().includes(notFoundMessage)) return false;
  throw failure(helper, 'erase', serverUrl, result);
}
