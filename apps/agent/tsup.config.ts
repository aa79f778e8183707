import { defineConfig } from 'tsup';

// One self-contained ESM file for the Mac: workspace packages and npm dependencies inlined, so
// installing the agent is copying dist/main.js next to a Node runtime.
export default defineConfig({
  entry: { main: 'src/main.ts' },
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outDir: 'dist',
  clean: true,
  sourcemap: true,
  noExternal: [/.*/],
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
});
