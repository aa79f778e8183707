import { z } from 'zod';
import { AppError } from '../../errors.ts';
import { authedProcedure } from '../../trpc.ts';
import { listApiTokens } from '../../services/access/api-tokens.ts';

/** Your own tokens; admins may ask for everyone's (`scope: 'all'`). */
export const listApiTokensProcedure = authedProcedure
  .input(z.object({ scope: z.enum(['mine', 'all']).default('mine') }).default({ scope: 'mine' }))
  .query(({ ctx, input }) => {
    if (input.scope === 'all' && ctx.user.role !== 'admin') throw new AppError('FORBIDDEN', "Only admins can list other users' API tokens.");
    return listApiTokens(ctx.deps, input.scope === 'all' ? {} : { userId: ctx.user.id });
  });
