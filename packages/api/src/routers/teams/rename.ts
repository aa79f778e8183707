import { z } from 'zod';
import { adminProcedure } from '../../trpc.ts';
import { renameTeam } from '../../services/access/teams.ts';
import { teamNameInput } from './input.ts';

export const renameTeamProcedure = adminProcedure
  .input(z.object({ teamId: z.uuid(), name: teamNameInput }))
  .mutation(({ ctx, input }) => renameTeam(ctx.deps, ctx.actor, input));
