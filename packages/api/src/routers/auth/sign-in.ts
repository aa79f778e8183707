import { z } from 'zod';
import { publicProcedure } from '../../trpc.ts';
import { signIn } from '../../services/access/auth.ts';

export const signInInput = z.object({
  email: z.string().trim().min(1, 'Enter your email').max(320),
  password: z.string().min(1, 'Enter your password').max(1024),
});

/** Throttled per account and per address; never batched (the HTTP layer refuses auth.* in batches). */
export const signInProcedure = publicProcedure.input(signInInput).mutation(async ({ ctx, input }) => {
  const session = await signIn(ctx.deps, { ...input, userAgent: ctx.userAgent }, {
    clientAddress: ctx.clientAddress,
    policy: ctx.authPolicy?.signIn,
    slots: ctx.authPolicy?.verificationSlots,
  });
  ctx.setSessionCookie(session.token, session.expiresAt);
  return { user: session.user };
});
