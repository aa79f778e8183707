import { z } from 'zod';
import { adminProcedure } from '../../trpc.ts';
import { createProject, parseSelector } from '../../services/projects/projects.ts';
import { nameLimits, tooLong } from '../../names.ts';

export const projectNameInput = z.string().trim().min(1, 'Give the project a name').max(nameLimits.project, tooLong('project', nameLimits.project));
/** `key=value, key=value`; empty for every node. */
export const nodeSelectorInput = z.string().max(500, 'A node selector is at most 500 characters');

export const createProjectInput = z.object({
  name: projectNameInput,
  teamId: z.string().uuid('Choose a team'),
  nodeSelector: nodeSelectorInput.default(''),
});

export const createProjectProcedure = adminProcedure
  .input(createProjectInput)
  .mutation(({ ctx, input }) => createProject(ctx.deps, ctx.actor, { ...input, nodeSelector: parseSelector(input.nodeSelector) }));
