import { z } from 'zod';
import { sessionAdminProcedure } from './session-admin.ts';
import { setUserRole } from '../../services/access/users.ts';
import { roleInput } from './input.ts';

export const setUserRoleInput = z.object({ userId: z.uuid(), role: roleInput });

/** Refused when it would leave no active admin. */
export const setUserRoleProcedure = sessionAdminProcedure.input(setUserRoleInput).mutation(({ ctx, input }) => setUserRole(ctx.deps, ctx.actor, input));
