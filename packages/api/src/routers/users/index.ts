import { router } from '../../trpc.ts';
import { createUserProcedure } from './create.ts';
import { listUsersProcedure } from './list.ts';
import { resetPasswordProcedure } from './reset-password.ts';
import { setUserDisabledProcedure } from './set-disabled.ts';
import { setUserRoleProcedure } from './set-role.ts';

/** Accounts: admins only. */
export const usersRouter = router({
  list: listUsersProcedure,
  create: createUserProcedure,
  setRole: setUserRoleProcedure,
  setDisabled: setUserDisabledProcedure,
  resetPassword: resetPasswordProcedure,
});
