import { defineConfig } from 'prisma/config';

// The CLI reads this file; the running product never does (packages/db builds its own client
// with the pg driver adapter). Migrations are applied by packages/db's runner, which records
// them in _prisma_migrations exactly as `prisma migrate deploy` would.
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: {
    path: 'prisma/migrations',
    seed: 'tsx prisma/seed.ts',
  },
  datasource: {
    url: process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/cider',
  },
});
