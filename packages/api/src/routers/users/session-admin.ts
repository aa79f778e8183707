import { AppError } from '../../errors.ts';
import { adminProcedure } from '../../trpc.ts';

/**
 * Account changes need an admin signed in to the dashboard, not an API token. Creating a user,
 * setting a password, changing a role or re-enabling an account hands out credentials or rights
 * that would outlive the token: a leaked admin token that could do these would let its finder
 * keep admin access for good (a new admin account, a known password) after the token expires or
 * is revoked. Reading the user list stays open to tokens.
 */
export const sessionAdminProcedure = adminProcedure.use(({ ctx, next }) => {
  if (ctx.apiToken) throw new AppError('FORBIDDEN', 'Changing user accounts needs an admin signed in to the dashboard; API tokens cannot do it.');
  return next();
});
