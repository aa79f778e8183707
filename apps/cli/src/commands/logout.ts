import { DockerConfigCredentials, normalizeRegistry } from '@cider/oci';
import type { Command } from 'commander';
import { fail, output, type GlobalOptions } from '../context.ts';

export function registerLogout(program: Command): void {
  program
    .command('logout <registry>')
    .description('forget the stored credentials for a registry (credential helper and docker config)')
    .action(async (input: string, _options: unknown, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const json = globals.json === true;
      const registry = normalizeRegistry(input);
      try {
        const removed = await new DockerConfigCredentials().erase(registry);
        output(json, { registry, removed }, removed ? `Removed the credentials for ${registry}.` : `No credentials were stored for ${registry}.`);
      } catch (error) {
        fail(error, json);
      }
    });
}
