import type { NextConfig } from 'next';

const config: NextConfig = {
  // The workspace packages export TypeScript sources (with `.ts` import specifiers), so Next
  // compiles them like app code.
  transpilePackages: ['@cider/api', '@cider/db', '@cider/oci', '@cider/protocol'],
  // Node-only drivers (Prisma's pg adapter, BullMQ, ioredis) are required at runtime rather
  // than bundled: they load native helpers, wasm and worker files by path.
  serverExternalPackages: ['@prisma/client', '@prisma/adapter-pg', 'pg', 'bullmq', 'ioredis'],
  poweredByHeader: false,
  reactStrictMode: true,
};

export default config;
