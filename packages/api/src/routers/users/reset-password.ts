import { z } from 'zod';
import { adminProcedure } from '../../trpc.ts';
import { resetUserPassword } from '../../services/users.ts';
import { passwordInput } from './input.ts';

export const resetPasswordInput = z.object({ userId: z.uuid(), password: passwordInput });

/** The admin sets a new password; every session of that user ends. */
export const resetPasswordProcedure = adminProcedure.input(resetPasswordInput).mutation(({ ctx, input }) => resetUserPassword(ctx.deps, ctx.actor, input));
