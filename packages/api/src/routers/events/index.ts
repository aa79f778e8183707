import { authedProcedure, router, toTrpcError } from '../../trpc.ts';

/** Live fleet events over SSE; pages refresh or patch what an event names. */
export const eventsRouter = router({
  stream: authedProcedure.subscription(async function* ({ ctx, signal }) {
    try {
      for await (const event of ctx.hub.stream(signal)) yield event;
    } catch (error) {
      // Redis gone: a 503 the browser retries (and nothing for the server's error log), not a 500.
      throw toTrpcError(error);
    }
  }),
});
