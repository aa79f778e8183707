// The dashboard's HTTP surface for the tRPC endpoint: the handler with its guards, and what a
// request says about its origin (also used by web's proxy for security headers).
export { createTrpcHandler, defaultMaxBatchSize, type TrpcHandlerOptions } from './trpc-handler.ts';
export { boundedBody, maxRequestBodyBytes, refuseBatch, refuseCrossSite, requestedPaths, trpcRefusal } from './request-guards.ts';
export { addressBucket, clientAddress, isHttps, parseTrustProxy, requestHosts } from './request-facts.ts';
