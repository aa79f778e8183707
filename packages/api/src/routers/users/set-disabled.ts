import { z } from 'zod';
import { sessionAdminProcedure } from './session-admin.ts';
import { setUserDisabled } from '../../services/access/users.ts';

export const setUserDisabledInput = z.object({ userId: z.uuid(), disabled: z.boolean() });

/** Disabling ends the user's sessions at once; refused for the last active admin. */
export const setUserDisabledProcedure = sessionAdminProcedure.input(setUserDisabledInput).mutation(({ ctx, input }) => setUserDisabled(ctx.deps, ctx.actor, input));
