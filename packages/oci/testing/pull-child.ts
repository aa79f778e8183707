// A pull in a child process, for the crash tests: prints `progress <bytesDone> <bytesTotal>` lines so the
// parent can SIGKILL it at a chosen point, then `done <digest>`.
import { HostCache } from '../src/cache/cache.ts';
import { pull } from '../src/pull.ts';
import { RegistryClient } from '../src/registry/client.ts';

const [reference, cacheDir, segmentMiB] = process.argv.slice(2);
const client = new RegistryClient({ retry: { retries: 2, baseDelayMs: 20, maxDelayMs: 100 } });
const cache = await HostCache.open(cacheDir!);
const result = await pull({
  client,
  cache,
  reference: reference!,
  blobFetch: { connections: 4, segmentSize: Number(segmentMiB ?? 1) * 1024 * 1024, journalIntervalMs: 100 },
  onProgress: (p) => process.stdout.write(`progress ${p.bytesDone} ${p.bytesTotal}\n`),
});
process.stdout.write(`done ${result.digest}\n`);
await client.close();
