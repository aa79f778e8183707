import { DockerConfigCredentials, normalizeRegistry } from '@cider/oci';
import type { Command } from 'commander';
import { action } from '../context.ts';

export function registerLogout(program: Command): void {
  program
    .command('logout <registry>')
    .description('forget the stored credentials for a registry (credential helper and docker config)')
    .action(
      action(async (ctx, input: string) => {
        const registry = normalizeRegistry(input);
        const removed = await new DockerConfigCredentials().erase(registry);
        ctx.print({ registry, removed }, removed ? `Removed the credentials for ${registry}.` : `No credentials were stored for ${registry}.`);
      }),
    );
}
