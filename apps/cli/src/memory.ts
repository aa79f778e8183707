// Keeps the CLI's memory flat on large downloads: lets packages/oci run a quick garbage
// collection every few MB written (socket buffers otherwise pile up to tens of MB before V8
// collects them). Uses V8's own gc(), exposed at start-up.
import v8 from 'node:v8';
import vm from 'node:vm';
import { setMemoryRelief } from '@cider/oci';

export function keepMemoryFlat(): void {
  const mode = process.env.CIDER_GC ?? 'minor';
  if (mode === 'off') return;
  // A small young generation: downloads allocate fast but keep little, and V8 would otherwise
  // grow it to 2 x 16 MB over a long pull.
  v8.setFlagsFromString(`--max-semi-space-size=${process.env.CIDER_SEMI_SPACE_MB ?? 2}`);
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as (options?: { type?: string }) => void;
  setMemoryRelief(() => gc({ type: mode }));
}
