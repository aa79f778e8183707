import { z } from 'zod';
import { AppError } from '../../errors.ts';
import { authedProcedure, canEditTeam } from '../../trpc.ts';
import { setPin } from '../../services/projects/pins.ts';

export const setPinInput = z.object({
  projectId: z.string().uuid(),
  reference: z.string().trim().min(1, 'Enter an image reference, e.g. registry.example.com/macos:15.2').max(600),
  mode: z.enum(['follow', 'frozen']).default('follow'),
});

/** Resolves the tag to a digest at the registry, records the pin, and starts the rollout. */
export const setPinProcedure = authedProcedure.input(setPinInput).mutation(async ({ ctx, input }) => {
  const project = await ctx.deps.db.project.findUnique({ where: { id: input.projectId } });
  if (!project) throw new AppError('NOT_FOUND', 'No such project.');
  if (!canEditTeam(ctx.user, project.teamId)) throw new AppError('FORBIDDEN', "Only admins and members of this project's team can change its pins.");
  return setPin(ctx.deps, ctx.actor, input);
});
