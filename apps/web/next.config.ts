import type { NextConfig } from 'next';

// Headers every response carries, pages, API and static files alike. Pages also get a
// Content-Security-Policy with a per-request nonce and, over https, HSTS (src/proxy.ts).
const everyResponse = [
  { key: 'X-Content-Type-Options', value: 'nosniff' },
  { key: 'X-Frame-Options', value: 'DENY' },
  { key: 'Referrer-Policy', value: 'same-origin' },
];

// API answers, health checks and metrics are never documents: nothing may load in or frame them.
const notADocument = [{ key: 'Content-Security-Policy', value: "default-src 'none'; frame-ancestors 'none'" }];

const config: NextConfig = {
  // The workspace packages export TypeScript sources (with `.ts` import specifiers), so Next
  // compiles them like app code.
  transpilePackages: ['@cider/api', '@cider/db', '@cider/oci', '@cider/protocol'],
  // Node-only drivers (Prisma's pg adapter, BullMQ, ioredis) are required at runtime rather
  // than bundled: they load native helpers, wasm and worker files by path.
  serverExternalPackages: ['@prisma/client', '@prisma/adapter-pg', 'pg', 'bullmq', 'ioredis', 'prom-client'],
  poweredByHeader: false,
  reactStrictMode: true,
  async headers() {
    return [
      { source: '/:path*', headers: everyResponse },
      { source: '/api/:path*', headers: notADocument },
      { source: '/healthz', headers: notADocument },
      { source: '/metrics', headers: notADocument },
    ];
  },
};

export default config;
