import { publicProcedure } from '../../trpc.ts';

/** The signed-in user, or null: public so the sign-in page can ask. */
export const meProcedure = publicProcedure.query(({ ctx }) => ctx.user ?? null);
