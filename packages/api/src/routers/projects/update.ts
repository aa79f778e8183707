import { z } from 'zod';
import { adminProcedure } from '../../trpc.ts';
import { updateProject } from '../../services/projects/lifecycle.ts';
import { parseSelector } from '../../services/projects/projects.ts';
import { nodeSelectorInput, projectNameInput } from './create.ts';

/** Rename a project and/or change its selector (admins, as creating one is). */
export const updateProjectProcedure = adminProcedure
  .input(z.object({ projectId: z.string().uuid(), name: projectNameInput.optional(), nodeSelector: nodeSelectorInput.optional() }))
  .mutation(({ ctx, input }) =>
    updateProject(ctx.deps, ctx.actor, input.projectId, { name: input.name, nodeSelector: input.nodeSelector === undefined ? undefined : parseSelector(input.nodeSelector) }),
  );
