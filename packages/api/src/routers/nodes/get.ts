import { z } from 'zod';
import { authedProcedure } from '../../trpc.ts';
import { nodeDetail } from '../../services/nodes/detail.ts';

/** One node: facts, presence, held images (pinned or not), projects served and latest jobs. */
export const getNodeProcedure = authedProcedure.input(z.object({ nodeId: z.string().uuid() })).query(({ ctx, input }) => nodeDetail(ctx.deps, input.nodeId));
