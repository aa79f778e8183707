#!/usr/bin/env node
// Committed launcher, so npm links the bin at install time; the code is the build in dist/.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cider.js', import.meta.url);
if (!existsSync(entry)) {
  console.error('This command is not built yet: run `npm run build` at the repository root.');
  process.exit(1);
}
await import(entry.href);
