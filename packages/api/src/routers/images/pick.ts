import { z } from 'zod';
import { authedProcedure } from '../../trpc.ts';
import { pickRepositories, pickTags } from '../../services/images/index.ts';
import { registryIdInput, repositoryInput } from './input.ts';

const search = z.string().max(255).optional();

/** The pin form's repository choice: names containing `search`, a short list and how many match. */
export const pickRepositoriesProcedure = authedProcedure.input(registryIdInput.extend({ search })).query(({ ctx, input }) => pickRepositories(ctx.deps, input));

/** The pin form's tag choice: newest-looking first, with version, build and date, and nodes holding each. */
export const pickTagsProcedure = authedProcedure.input(repositoryInput.extend({ search })).query(({ ctx, input }) => pickTags(ctx.deps, input));
