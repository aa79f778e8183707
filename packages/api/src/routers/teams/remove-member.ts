import { adminProcedure } from '../../trpc.ts';
import { removeTeamMember } from '../../services/access/teams.ts';
import { membershipInput } from './input.ts';

export const removeTeamMemberProcedure = adminProcedure.input(membershipInput).mutation(async ({ ctx, input }) => {
  await removeTeamMember(ctx.deps, ctx.actor, input);
  return { ok: true as const };
});
