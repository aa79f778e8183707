import { publicProcedure } from '../../trpc.ts';
import { signOut } from '../../services/access/auth.ts';

export const signOutProcedure = publicProcedure.mutation(async ({ ctx }) => {
  await signOut(ctx.deps, ctx.sessionToken);
  ctx.setSessionCookie(null);
  return { ok: true };
});
