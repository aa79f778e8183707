import { DockerConfigCredentials, normalizeRegistry, StaticCredentials, type StoredIn } from '@cider/oci';
import type { Command } from 'commander';
import { action } from '../context.ts';
import { promptHidden, promptLine, readStdin } from '../prompt.ts';

interface LoginOptions {
  username?: string;
  passwordStdin?: boolean;
}

/** The username and password from the flags, stdin or the terminal, refusing to guess. */
async function askCredentials(registry: string, options: LoginOptions): Promise<{ username: string; password: string }> {
  const tty = process.stdin.isTTY === true;
  if (options.passwordStdin) {
    if (!options.username) throw new Error('--password-stdin needs --username (-u): stdin holds only the password.');
    const password = await readStdin();
    if (!password) throw new Error('--password-stdin: stdin was empty, so there is no password to log in with.');
    return { username: options.username, password };
  }
  if (!tty) {
    throw new Error(`Cannot ask for the password of ${registry}: stdin is not a terminal. Pipe it in with --password-stdin (and -u <user>).`);
  }
  const username = options.username ?? (await promptLine('Username: '));
  if (!username) throw new Error('A username is needed to log in.');
  const password = await promptHidden('Password: ');
  if (!password) throw new Error('A password is needed to log in.');
  return { username, password };
}

function describe(stored: StoredIn): string {
  return stored.kind === 'helper' ? `the credential helper docker-credential-${stored.helper}` : stored.file;
}

export function registerLogin(program: Command): void {
  program
    .command('login <registry>')
    .description('check a username and password against a registry, then store them for later commands (as docker login does)')
    .option('-u, --username <user>', 'username (asked for on a terminal when omitted)')
    .option('--password-stdin', 'read the password from stdin')
    .action(
      action(async (ctx, input: string, options: LoginOptions) => {
        const registry = normalizeRegistry(input);
        const { username, password } = await askCredentials(registry, options);
        // Verify first (GET /v2/ with these credentials only), so a typo is never stored.
        await ctx.client({ credentials: new StaticCredentials({ [registry]: { kind: 'basic', username, password } }) }).ping(registry);
        const stored = await new DockerConfigCredentials().store(registry, username, password);
        ctx.print({ registry, username, stored }, `Login succeeded: ${username} at ${registry}, stored in ${describe(stored)}.`);
      }),
    );
}
