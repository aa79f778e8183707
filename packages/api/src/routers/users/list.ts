import { adminProcedure } from '../../trpc.ts';
import { listUsers } from '../../services/access/users.ts';

/** Every account with its teams; never a password hash. */
export const listUsersProcedure = adminProcedure.query(({ ctx }) => listUsers(ctx.deps));
