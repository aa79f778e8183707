// Loaded with `--import` into a CLI process under test (plain JavaScript, so the built CLI can load it too): as the process exits, it writes its peak
// resident memory (VmHWM from /proc/self/status, in kB) to the file named by CIDER_PEAK_RSS_FILE.
// Read at exit, so no spike between two polls is missed.
import { readFileSync, writeFileSync } from 'node:fs';

const file = process.env.CIDER_PEAK_RSS_FILE;
if (file) {
  process.on('exit', () => {
    const kb = /VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    writeFileSync(file, kb ?? '');
  });
}
