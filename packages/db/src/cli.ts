// `npm run db:migrate` — applies prisma/migrations to DATABASE_URL the way `prisma migrate deploy` does.
import { findMigrationsDir, migrate, migrationRecords } from './migrate/index.ts';

const [command = 'migrate'] = process.argv.slice(2);
const url = process.env.DATABASE_URL;
if (!url) {
  console.error('DATABASE_URL is not set. Example: DATABASE_URL=postgresql://postgres@127.0.0.1:5432/cider npm run db:migrate');
  process.exit(2);
}
try {
  if (command === 'migrate') {
    const result = await migrate({ url, migrationsDir: findMigrationsDir(), log: (line) => console.log(line) });
    console.log(`${result.applied.length} applied, ${result.alreadyApplied.length} already up to date`);
  } else if (command === 'status') {
    for (const r of await migrationRecords(url)) {
      const state = r.rolledBackAt ? 'rolled back' : r.finishedAt ? 'applied' : 'FAILED';
      console.log(`${r.migrationName}\t${state}\t${r.startedAt.toISOString()}`);
    }
  } else {
    console.error(`Unknown command ${command}; use migrate or status`);
    process.exit(2);
  }
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
}
