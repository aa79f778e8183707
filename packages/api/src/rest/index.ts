export { createRestHandler, type RestHandlerOptions } from './handler.ts';
export { buildOpenApiDocument } from './openapi.ts';
export * from './contract.ts';
