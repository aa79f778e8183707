import { authedProcedure } from '../../trpc.ts';
import { registryRepositories } from '../../services/images/index.ts';
import { registryIdInput } from './input.ts';

/** A registry's repositories from its catalog; `catalog.available` is false when it keeps them private. */
export const repositoriesProcedure = authedProcedure.input(registryIdInput).query(({ ctx, input }) => registryRepositories(ctx.deps, input.registryId));
