import { z } from 'zod';
import { adminProcedure } from '../../trpc.ts';
import { deleteProject } from '../../services/projects/lifecycle.ts';

/** Deletes a project and unpins its images; what nodes already hold stays in their caches. */
export const deleteProjectProcedure = adminProcedure.input(z.object({ projectId: z.string().uuid() })).mutation(({ ctx, input }) => deleteProject(ctx.deps, ctx.actor, input.projectId));
