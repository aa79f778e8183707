import { z } from 'zod';
import { AppError } from '../../errors.ts';
import { authedProcedure, canEditTeam } from '../../trpc.ts';
import { removePin } from '../../services/projects/pins.ts';

export const removePinProcedure = authedProcedure.input(z.object({ pinId: z.string().uuid() })).mutation(async ({ ctx, input }) => {
  const pin = await ctx.deps.db.pin.findUnique({ where: { id: input.pinId }, include: { project: true } });
  if (!pin) throw new AppError('NOT_FOUND', 'No such pin.');
  if (!canEditTeam(ctx.user, pin.project.teamId)) throw new AppError('FORBIDDEN', "Only admins and members of this project's team can change its pins.");
  await removePin(ctx.deps, ctx.actor, pin.id);
  return { ok: true as const };
});
