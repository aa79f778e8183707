// Downloads allocate a socket buffer per network read; V8 frees them only after tens of MB of
// such garbage. A host process (the CLI, the agent) may hand us a cheap young-generation
// collection to run every 4 MB written, which keeps memory flat however large the blob.
let relieve: (() => void) | undefined;
let sinceRelief = 0;
const reliefEveryBytes = 4 * 1024 * 1024;

export function setMemoryRelief(collect: (() => void) | undefined): void {
  relieve = collect;
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
