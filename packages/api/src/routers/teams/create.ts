import { z } from 'zod';
import { adminProcedure } from '../../trpc.ts';
import { createTeam } from '../../services/access/teams.ts';
import { teamNameInput } from './input.ts';

export const createTeamProcedure = adminProcedure.input(z.object({ name: teamNameInput })).mutation(({ ctx, input }) => createTeam(ctx.deps, ctx.actor, input));
