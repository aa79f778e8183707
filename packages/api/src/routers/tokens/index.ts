import { router } from '../../trpc.ts';
import { createApiTokenProcedure } from './api-create.ts';
import { listApiTokensProcedure } from './api-list.ts';
import { revokeApiTokenProcedure } from './api-revoke.ts';
import { createEnrollmentTokenProcedure } from './enrollment-create.ts';
import { listEnrollmentTokensProcedure } from './enrollment-list.ts';
import { revokeEnrollmentTokenProcedure } from './enrollment-revoke.ts';

/** Enrollment tokens (admins: new Macs join with them) and API tokens (anyone: scripts act as them). */
export const tokensRouter = router({
  enrollment: router({ create: createEnrollmentTokenProcedure, list: listEnrollmentTokensProcedure, revoke: revokeEnrollmentTokenProcedure }),
  api: router({ create: createApiTokenProcedure, list: listApiTokensProcedure, revoke: revokeApiTokenProcedure }),
});
