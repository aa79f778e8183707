import { authedProcedure, router } from '../../trpc.ts';

/** Live fleet events over SSE; pages refresh or patch what an event names. */
export const eventsRouter = router({
  stream: authedProcedure.subscription(async function* ({ ctx, signal }) {
    for await (const event of ctx.hub.stream(signal)) yield event;
  }),
});
