import { z } from 'zod';
import { authedProcedure } from '../../trpc.ts';
import { rolloutFlow } from '../../services/fleet/rollout-flow.ts';

/** How one image reached the project's nodes: registry egress against a rollout without peers, and who fed whom (the largest flows). */
export const projectRolloutFlowProcedure = authedProcedure
  .input(z.object({ projectId: z.string().uuid(), digest: z.string().regex(/^sha256:[0-9a-f]{64}$/, 'a sha256 digest') }))
  .query(({ ctx, input }) => rolloutFlow(ctx.deps, input));
