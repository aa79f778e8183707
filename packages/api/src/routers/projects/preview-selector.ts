import { z } from 'zod';
import { authedProcedure } from '../../trpc.ts';
import { previewSelector } from '../../services/projects/selector-preview.ts';
import { parseSelector } from '../../services/projects/projects.ts';
import { nodeSelectorInput } from './create.ts';

/** How many nodes a selector matches and the first few names, while the form is being filled in. */
export const previewSelectorProcedure = authedProcedure
  .input(z.object({ nodeSelector: nodeSelectorInput }))
  .query(({ ctx, input }) => previewSelector(ctx.deps, parseSelector(input.nodeSelector)));
