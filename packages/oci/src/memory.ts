// Downloads allocate a socket buffer per network read; V8 frees them only after tens of MB of
// such garbage. A host process (the CLI, the agent) may opt in to a cheap young-generation
// collection every 4 MB written, which keeps memory flat however large the blob.
import v8 from 'node:v8';
import vm from 'node:vm';

let relieve: (() => void) | undefined;
let sinceRelief = 0;
const reliefEveryBytes = 4 * 1024 * 1024;

export function setMemoryRelief(collect: (() => void) | undefined): void {
  relieve = collect;
}

/**
 * Opts this process in: exposes V8's gc() and runs it (young generation by default) every
 * 4 MB a download writes. `CIDER_GC=off|minor|major` overrides. Call once at start-up.
 */
export function enableMemoryRelief(mode = process.env.CIDER_GC ?? 'minor'): void {
  if (mode === 'off') return;
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as (options?: { type?: string }) => void;
  setMemoryRelief(() => gc({ type: mode }));
}

/** Called by the download path with bytes written. */
export function noteBytesWritten(bytes: number): void {
  if (!relieve) return;
  sinceRelief += bytes;
  if (sinceRelief >= reliefEveryBytes) {
    sinceRelief = 0;
    relieve();
  }
}
