import { parseReference } from '@cider/oci';
import type { Command } from 'commander';
import { clientFor, fail, output, type GlobalOptions } from '../context.ts';

export function registerTags(program: Command): void {
  program
    .command('tags <repository>')
    .description('list the tags of a repository (host/name)')
    .action(async (repository: string, _options: unknown, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const client = clientFor(globals);
      try {
        const ref = parseReference(repository, { defaultTag: false });
        const tags = await client.repository(ref.registry, ref.repository).listTags();
        output(globals.json === true, tags, tags.join('\n'));
      } catch (error) {
        fail(error, globals.json === true);
      } finally {
        await client.close();
      }
    });
}
