import { adminProcedure } from '../../trpc.ts';
import { addTeamMember } from '../../services/access/teams.ts';
import { membershipRoleInput } from './input.ts';

export const addTeamMemberProcedure = adminProcedure.input(membershipRoleInput).mutation(async ({ ctx, input }) => {
  await addTeamMember(ctx.deps, ctx.actor, input);
  return { ok: true as const };
});
