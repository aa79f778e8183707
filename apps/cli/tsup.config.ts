import { defineConfig } from 'tsup';

// One self-contained ESM file: `node_modules/.bin/cider` after `npm run build`.
export default defineConfig({
  entry: { cider: 'src/cider.ts' },
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outDir: 'dist',
  clean: true,
  sourcemap: true,
  noExternal: [/.*/],
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
});
