import { parseReference } from '@cider/oci';
import type { Command } from 'commander';
import { action } from '../context.ts';

export function registerTags(program: Command): void {
  program
    .command('tags <repository>')
    .description('list the tags of a repository (host/name)')
    .action(
      action(async (ctx, repository: string) => {
        const ref = parseReference(repository, { defaultTag: false });
        const tags = await ctx.client().repository(ref.registry, ref.repository).listTags();
        ctx.print(tags, tags.join('\n'));
      }),
    );
}
