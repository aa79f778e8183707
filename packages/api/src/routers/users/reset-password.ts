import { z } from 'zod';
import { sessionAdminProcedure } from './session-admin.ts';
import { resetUserPassword } from '../../services/access/users.ts';
import { passwordInput } from './input.ts';

export const resetPasswordInput = z.object({ userId: z.uuid(), password: passwordInput });

/** The admin sets a new password; every session of that user ends. */
export const resetPasswordProcedure = sessionAdminProcedure.input(resetPasswordInput).mutation(({ ctx, input }) => resetUserPassword(ctx.deps, ctx.actor, input));
