import { z } from 'zod';
import { adminProcedure } from '../../trpc.ts';
import { deleteTeam } from '../../services/access/teams.ts';

/** Refused while the team owns projects, naming them. */
export const deleteTeamProcedure = adminProcedure.input(z.object({ teamId: z.uuid() })).mutation(async ({ ctx, input }) => {
  await deleteTeam(ctx.deps, ctx.actor, input);
  return { ok: true as const };
});
