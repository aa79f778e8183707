import { z } from 'zod';
import { authedProcedure } from '../../trpc.ts';
import { getProject } from '../../services/fleet/overview.ts';

export const projectByIdProcedure = authedProcedure.input(z.object({ projectId: z.string().uuid() })).query(({ ctx, input }) => getProject(ctx.deps, input.projectId));
