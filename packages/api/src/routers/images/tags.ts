import { authedProcedure } from '../../trpc.ts';
import { repositoryTags } from '../../services/images/index.ts';
import { repositoryInput } from './input.ts';

/** A repository's tags, newest-looking first, with digests and the pins and nodes using them. */
export const tagsProcedure = authedProcedure.input(repositoryInput).query(({ ctx, input }) => repositoryTags(ctx.deps, input));
