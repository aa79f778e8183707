import { z } from 'zod';
import { adminProcedure } from '../../trpc.ts';
import { setUserRole } from '../../services/users.ts';
import { roleInput } from './input.ts';

export const setUserRoleInput = z.object({ userId: z.uuid(), role: roleInput });

/** Refused when it would leave no active admin. */
export const setUserRoleProcedure = adminProcedure.input(setUserRoleInput).mutation(({ ctx, input }) => setUserRole(ctx.deps, ctx.actor, input));
