import { z } from 'zod';
import { adminProcedure } from '../../trpc.ts';
import { createProject, parseSelector } from '../../services/projects/projects.ts';
import { nameLimits, tooLong } from '../../names.ts';

export const createProjectInput = z.object({
  name: z.string().trim().min(1, 'Give the project a name').max(nameLimits.project, tooLong('project', nameLimits.project)),
  teamId: z.string().uuid('Choose a team'),
  /** `key=value, key=value`; empty for every node. */
  nodeSelector: z.string().max(500).default(''),
});

export const createProjectProcedure = adminProcedure
  .input(createProjectInput)
  .mutation(({ ctx, input }) => createProject(ctx.deps, ctx.actor, { ...input, nodeSelector: parseSelector(input.nodeSelector) }));
