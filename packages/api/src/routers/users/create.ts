import { z } from 'zod';
import { sessionAdminProcedure } from './session-admin.ts';
import { addUser } from '../../services/access/users.ts';
import { passwordInput, roleInput } from './input.ts';

export const createUserInput = z.object({
  email: z.string().trim().max(320).pipe(z.email('Enter an email address, e.g. ana@example.com')),
  name: z.string().trim().min(1, 'Enter the person’s name').max(200),
  password: passwordInput,
  role: roleInput,
});

/** An admin creates an account with an initial password to hand over. */
export const createUserProcedure = sessionAdminProcedure.input(createUserInput).mutation(({ ctx, input }) => addUser(ctx.deps, ctx.actor, input));
