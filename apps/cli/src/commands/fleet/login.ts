// `cider fleet login` / `logout`: check an API token against the server (GET /me) and only then
// store server and token for later commands, readable by the owner only. The token is read from
// stdin or typed without echo, never taken from the command line (shell history, process lists).
import type { Command } from 'commander';
import { FleetClient, parseServer } from '../../fleet/client.ts';
import { loginFile, readLogin, removeLogin, writeLogin } from '../../fleet/config.ts';
import { FleetError } from '../../fleet/errors.ts';
import { promptHidden, readStdin } from '../../prompt.ts';
import { fleetAction } from './run.ts';

async function askToken(server: string, tokenStdin: boolean): Promise<string> {
  if (tokenStdin) {
    const token = (await readStdin()).trim();
    if (!token) throw new FleetError('USAGE', '--token-stdin: stdin was empty, so there is no token to log in with.');
    return token;
  }
  if (process.stdin.isTTY !== true) {
    throw new FleetError('USAGE', `Cannot ask for the API token of ${server}: stdin is not a terminal. Pipe it in with --token-stdin.`);
  }
  const token = (await promptHidden(`API token for ${server} (Settings -> API tokens): `)).trim();
  if (!token) throw new FleetError('USAGE', 'A token is needed to log in.');
  return token;
}

export function registerFleetLogin(fleet: Command): void {
  fleet
    .command('login [server]')
    .description('check an API token against a Cider Fleet server, then store both for later commands (0600)')
    .option('--token-stdin', 'read the token from stdin (e.g. echo "$TOKEN" | cider fleet login ...)')
    .action(
      fleetAction(async (ctx, input: string | undefined, options: { tokenStdin?: boolean }) => {
        const named = input ?? ctx.options.server ?? process.env.CIDER_SERVER ?? (await readLogin())?.server;
        if (!named) throw new FleetError('NO_SERVER', 'Name the server: cider fleet login https://cider.example.com');
        const server = parseServer(named).href;
        const token = await askToken(server, options.tokenStdin === true);
        // Verify first, so a mistyped or revoked token is never stored.
        const me = await new FleetClient({ server, token, tokenSource: 'the token given' }).call('me.get', {});
        const file = loginFile();
        await writeLogin({ server, token }, file);
        const expires = me.token?.expiresAt ? `, token expires ${me.token.expiresAt.slice(0, 10)}` : '';
        ctx.print({ server, user: me, file }, `Logged in to ${server} as ${me.email} (${me.role}${expires}); stored in ${file}.`);
      }),
    );

  fleet
    .command('logout')
    .description('forget the stored server and token')
    .action(
      fleetAction(async (ctx) => {
        const file = loginFile();
        const removed = await removeLogin(file);
        ctx.print({ removed, file }, removed ? `Logged out: removed ${file}.` : `Not logged in (no ${file}).`);
      }),
    );
}
