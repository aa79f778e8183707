'use client';
// One QueryClient and tRPC client per browser tab. Subscriptions go over SSE (httpSubscriptionLink),
// sign-in calls (auth.*) one per request (the server refuses them in batches), everything else over
// batched HTTP, at most as many calls per batch as the server accepts.
import type { AppRouter } from '@cider/api';
import { QueryCache, QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { createTRPCClient, httpBatchLink, httpLink, httpSubscriptionLink, splitLink, TRPCClientError } from '@trpc/client';
import { useState, type ReactNode } from 'react';
import superjson from 'superjson';
import { TRPCProvider } from './react.ts';

const url = '/api/trpc';
/** The server's cap (defaultMaxBatchSize in @cider/api/http). */
const maxBatchItems = 20;

function isClientError(error: unknown): boolean {
  const status = error instanceof TRPCClientError ? (error.data as { httpStatus?: number } | undefined)?.httpStatus : undefined;
  return status !== undefined && status >= 400 && status < 500;
}

function makeQueryClient(): QueryClient {
  return new QueryClient({
    queryCache: new QueryCache({
      onError(error) {
        // A session that expired while the page was open: go sign in again.
        if (error instanceof TRPCClientError && error.data?.code === 'UNAUTHORIZED') window.location.assign('/sign-in');
      },
    }),
    defaultOptions: {
      queries: {
        staleTime: 5_000,
        // Retrying a 4xx gives the same answer; only transient failures are worth another try.
        retry: (failures, error) => !isClientError(error) && failures < 2,
      },
    },
  });
}

export function TrpcQueryProvider({ children }: { children: ReactNode }) {
  const [queryClient] = useState(makeQueryClient);
  const [trpcClient] = useState(() =>
    createTRPCClient<AppRouter>({
      links: [
        splitLink({
          condition: (op) => op.type === 'subscription',
          true: httpSubscriptionLink({ url, transformer: superjson }),
          false: splitLink({
            condition: (op) => op.path.startsWith('auth.'),
            true: httpLink({ url, transformer: superjson }),
            false: httpBatchLink({ url, transformer: superjson, maxItems: maxBatchItems }),
          }),
        }),
      ],
    }),
  );
  return (
    <QueryClientProvider client={queryClient}>
      <TRPCProvider trpcClient={trpcClient} queryClient={queryClient}>
        {children}
      </TRPCProvider>
    </QueryClientProvider>
  );
}
