import { cp, rm } from 'node:fs/promises';
import { defineConfig } from 'tsup';

// One ESM bundle with the workspace packages inlined; npm dependencies stay external. The SQL
// migrations ship beside it so `cider-control migrate` works from the bundle alone.
export default defineConfig({
  entry: { main: 'src/main.ts' },
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outDir: 'dist',
  clean: true,
  sourcemap: true,
  noExternal: [/^@cider\//],
  // CommonJS dependencies of the workspace packages get bundled too; give them a require().
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  async onSuccess() {
    // Fresh each build: a migration folder renamed or removed in prisma/ must not linger here.
    await rm('dist/migrations', { recursive: true, force: true });
    await cp('../../prisma/migrations', 'dist/migrations', { recursive: true });
  },
});
