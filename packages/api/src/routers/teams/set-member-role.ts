import { adminProcedure } from '../../trpc.ts';
import { setTeamMemberRole } from '../../services/access/teams.ts';
import { membershipRoleInput } from './input.ts';

/** A team role of member or admin lets the user change pins in the team's projects; viewer only reads. */
export const setTeamMemberRoleProcedure = adminProcedure.input(membershipRoleInput).mutation(async ({ ctx, input }) => {
  await setTeamMemberRole(ctx.deps, ctx.actor, input);
  return { ok: true as const };
});
