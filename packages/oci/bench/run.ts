// `npm run bench`: cider pull against its peers, measured side by side in one run on
// single-blob images in a local docker-registry.
//   1. 1 GiB direct: wall time and peak RSS of `cider pull`, `skopeo copy`, and a lower bound
//      (`curl | tee file | sha256sum`).
//   2. 1 GiB through a proxy capping each connection at 25 MB/s: cider vs skopeo.
//   3. 4 GiB direct: peak RSS (memory must not grow with the blob).
//   4. Kill at about 50% and resume: bytes the resumed pull fetches.
//   5. A 1 GiB IPSW published with `cider image push` (payload hashed once while uploading)
//      vs `skopeo copy oci:... docker://...` of the same image.
//   6. Pulling that image, every 64 MiB piece checked before the whole digest: cider vs skopeo.
//   7. The machine's limit, run with scenario 1: six parallel `curl --range` writing one
//      preallocated file at their offsets (no hashing, no fsync) vs the same cider pull (every
//      byte verified, fsynced before it is visible); also `sha256sum` and `openssl dgst` of the
//      file alone, the floor of hashing on one core.
// Prints a table and writes bench-results/oci.json. Options: --quick (smaller sizes),
// --runs N (repeats of scenarios 1 and 7, medians reported). The 1-minute load average before
// each run is recorded: other work on the machine skews every number.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRegistry } from '@cider/services';
import { digestFile, formatBytes, pushArtifact, RegistryClient } from '../src/index.ts';
import { fresh, median, requireTool, syncDisks, timed, type Measured } from './measure.ts';
import { makeSyntheticIpsw, startFaultProxy, writeRandomFile, type FaultProxy } from '../testing/index.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const cli = join(root, 'apps/cli/dist/cider.js');
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const runs = Number(args[args.indexOf('--runs') + 1]) || (quick ? 1 : 3);
const GiB = 1024 ** 3;
const MB = 1_000_000;

/**
 * Six ranged GETs at once, each written straight into one preallocated file at its offset: dd
 * moves the offset of the part's descriptor (shared with curl, `1<>file` opens it without
 * truncating) and curl writes from there. No hashing, no copy through a pipe, no fsync.
 */
const curlRangesScript = `set -e
url=$1; size=$2; out=$3; parts=$4
truncate -s "$size" "$out"
part=$(( (size + parts - 1) / parts ))
pids=()
for ((i = 0; i < parts; i++)); do
  from=$(( i * part )); to=$(( from + part - 1 )); (( to < size )) || to=$(( size - 1 ))
  ( dd count=0 oflag=seek_bytes seek=$from status=none && exec curl -sf -r $from-$to "$url" ) 1<>"$out" &
  pids+=($!)
done
for pid in "\${pids[@]}"; do wait "$pid"; done`;

/** Hashes `file` with `command` (sha256sum or `openssl dgst -sha256 -r`), timed; the hex must be `digest`'s. */
async function timedDigest(command: string[], file: string, digest: string, scratch: string): Promise<Measured> {
  const out = join(scratch, 'digest.txt');
  const measured = await timed('bash', ['-c', `"$@" > '${out}'`, 'digest', ...command, file]);
  const hex = (await readFile(out, 'utf8')).split(/\s/)[0];
  if (`sha256:${hex}` !== digest) throw new Error(`${command[0]} of the curl pipeline's file: sha256:${hex}, expected ${digest}`);
  return measured;
}

async function main(): Promise<void> {
  if (!existsSync(cli)) throw new Error(`Build the CLI first: npm run build (missing ${cli})`);
  requireTool('skopeo', 'sudo apt-get install skopeo');
  requireTool('curl', 'sudo apt-get install curl');
  const work = process.env.CIDER_BENCH_DIR ?? (await mkdtemp(join(tmpdir(), 'cider-bench-')));
  const registry = await startRegistry({ storageDir: join(work, 'registry') });
  const client = new RegistryClient();
  const small = quick ? 256 * 1024 * 1024 : GiB;
  const large = quick ? GiB : 4 * GiB;
  const results: Record<string, unknown> = { date: new Date().toISOString(), quick, runs, sizes: { small, large } };
  let proxy: FaultProxy | undefined;
  try {
    console.log(`preparing ${formatBytes(small)} and ${formatBytes(large)} images in ${work} ...`);
    const images: Record<string, { ref: string; blob: string; size: number }> = {};
    for (const [name, size] of [['small', small], ['large', large]] as const) {
      const file = join(work, `${name}.bin`);
      await writeRandomFile(file, size);
      const { digest } = await digestFile(file);
      await pushArtifact({ client, reference: `${registry.host}/bench/${name}:v1`, files: [{ path: file }] });
      await rm(file);
      images[name] = { ref: `${registry.host}/bench/${name}:v1`, blob: digest, size };
    }
    const pullDir = join(work, 'pull');
    const cider = (reference: string, extra: string[] = [], options = {}) => timed(process.execPath, [cli, 'pull', reference, '--cache', pullDir, ...extra], options);
    const skopeo = (reference: string) =>
      timed('skopeo', ['copy', '-q', '--src-tls-verify=false', '--preserve-digests', `docker://${reference}`, `oci:${pullDir}:bench`]);
    const lowerBound = (url: string) => timed('bash', ['-c', `curl -sf '${url}' | tee '${join(pullDir, 'blob')}' | sha256sum > /dev/null`]);

    const smallUrl = `${registry.url}/v2/bench/small/blobs/${images.small!.blob}`;
    const rangesFile = join(pullDir, 'ranges');
    const curlRanges = () => timed('bash', ['-c', curlRangesScript, 'curl-ranges', smallUrl, String(images.small!.size), rangesFile, '6']);

    // 1. Direct, and 7. the machine's limit: each tool in turn, `runs` rounds, from a synced disk.
    const direct: Record<string, Measured[]> = { cider: [], skopeo: [], lowerBound: [], curlRanges: [], curlRangesSync: [], sha256sum: [], openssl: [] };
    for (let i = 0; i < runs; i++) {
      for (const [tool, run] of [
        ['cider', () => cider(images.small!.ref)],
        ['skopeo', () => skopeo(images.small!.ref)],
        ['lowerBound', () => lowerBound(smallUrl)],
        ['curlRanges', curlRanges],
      ] as const) {
        await fresh(pullDir);
        syncDisks();
        direct[tool]!.push(await run());
      }
      // The curl pipeline's file: how long its bytes take to reach the disk (cider fsyncs before
      // a blob is visible; curl does not), then hashing it alone, checked against the digest.
      direct.curlRangesSync!.push(await timed('sync', [rangesFile]));
      direct.sha256sum!.push(await timedDigest(['sha256sum'], rangesFile, images.small!.blob, work));
      direct.openssl!.push(await timedDigest(['openssl', 'dgst', '-sha256', '-r'], rangesFile, images.small!.blob, work));
    }
    const d = Object.fromEntries(
      Object.entries(direct).map(([k, v]) => [k, { seconds: median(v.map((m) => m.seconds)), peakRssMB: median(v.map((m) => m.peakRssMB ?? 0)), load: median(v.map((m) => m.load ?? 0)), all: v }]),
    );
    results.direct = d;

    // 2. Through a proxy that caps each connection at 25 MB/s.
    proxy = await startFaultProxy(registry.url, (req) => (req.method === 'GET' && req.path.includes('/blobs/') ? { kind: 'throttle', bytesPerSecond: 25 * MB } : undefined));
    const capped = `${proxy.host}/bench/small:v1`;
    await fresh(pullDir);
    syncDisks();
    const cappedCider = await cider(capped);
    await fresh(pullDir);
    const cappedSkopeo = await skopeo(capped);
    results.capped = { perConnectionMBps: 25, cider: cappedCider, skopeo: cappedSkopeo };

    // 3. Large blob, direct: memory must stay flat.
    await fresh(pullDir);
    syncDisks();
    const largeCider = await cider(images.large!.ref);
    await fresh(pullDir);
    syncDisks();
    const largeSkopeo = await skopeo(images.large!.ref);
    results.large = { cider: largeCider, skopeo: largeSkopeo };

    // 4. Kill at ~50%, then resume; a proxy at 100 MB/s per connection lets the kill land precisely.
    proxy.setRule((req) => (req.method === 'GET' && req.path.includes('/blobs/') ? { kind: 'throttle', bytesPerSecond: 100 * MB } : undefined));
    await fresh(pullDir);
    const before = proxy.blobBytesServed;
    const size = images.small!.size;
    const killed = await cider(capped, [], { killWhen: () => proxy!.blobBytesServed - before >= size / 2 });
    const firstRun = proxy.blobBytesServed - before;
    const resumed = await cider(capped);
    const secondRun = proxy.blobBytesServed - before - firstRun;
    results.resume = {
      killed: killed.killed,
      firstRunBytes: firstRun,
      resumedRunBytes: secondRun,
      resumedShare: secondRun / size,
      fetchedTwiceBytes: Math.max(0, firstRun + secondRun - size),
      resumeSeconds: resumed.seconds,
    };

    // 5. Publish an IPSW: cider reads it once (hash and pieces while uploading); skopeo pushes the
    //    same image from an OCI layout (the cache cider pulls it into).
    const ipsw = await makeSyntheticIpsw({ dir: work, payloadBytes: small, name: 'UniversalMac_bench_Restore.ipsw' });
    syncDisks();
    const publishCider = await timed(process.execPath, [cli, 'image', 'push', ipsw, `${registry.host}/bench/ipsw`, '--tag', 'v1']);
    await rm(ipsw);
    const layout = join(work, 'layout');
    await fresh(layout);
    await timed(process.execPath, [cli, 'pull', `${registry.host}/bench/ipsw:v1`, '--cache', layout, '--platform', 'darwin/arm64', '--no-materialize']);
    syncDisks();
    const publishSkopeo = await timed('skopeo', ['copy', '-q', '--dest-tls-verify=false', `oci:${layout}:v1`, `docker://${registry.host}/bench/ipsw-skopeo:v1`]);
    await rm(layout, { recursive: true, force: true });
    results.publish = { cider: publishCider, skopeo: publishSkopeo };

    // 6. Pull the IPSW image: piece digests checked as the in-order hash passes them.
    const ipswRef = `${registry.host}/bench/ipsw:v1`;
    await fresh(pullDir);
    syncDisks();
    const piecesCider = await cider(ipswRef, ['--platform', 'darwin/arm64']);
    await fresh(pullDir);
    syncDisks();
    const piecesSkopeo = await skopeo(ipswRef);
    results.pieces = { cider: piecesCider, skopeo: piecesSkopeo };

    report(results, d, cappedCider, cappedSkopeo, largeCider, largeSkopeo, results.resume as { resumedShare: number; fetchedTwiceBytes: number });
    await mkdir(join(root, 'bench-results'), { recursive: true });
    await writeFile(join(root, 'bench-results', 'oci.json'), `${JSON.stringify(results, null, 2)}\n`);
    console.log(`\nwrote ${join(root, 'bench-results', 'oci.json')}`);
  } finally {
    await proxy?.close();
    await client.close();
    await registry.stop();
    if (!process.env.CIDER_BENCH_DIR) await rm(work, { recursive: true, force: true });
  }
}

function report(
  results: Record<string, unknown>,
  d: Record<string, { seconds: number; peakRssMB: number; load: number; all: Measured[] }>,
  cappedCider: Measured,
  cappedSkopeo: Measured,
  largeCider: Measured,
  largeSkopeo: Measured,
  resume: { resumedShare: number; fetchedTwiceBytes: number },
): void {
  const sizes = results.sizes as { small: number; large: number };
  const f = (n: number, digits = 2) => n.toFixed(digits);
  const rows = [
    ['scenario', 'cider', 'skopeo', 'lower bound', 'ratio', 'target'],
    [
      `1. ${formatBytes(sizes.small)} direct, wall`,
      `${f(d.cider!.seconds)} s`,
      `${f(d.skopeo!.seconds)} s`,
      `${f(d.lowerBound!.seconds)} s`,
      `${f(d.cider!.seconds / d.skopeo!.seconds)}x skopeo, ${f(d.cider!.seconds / d.lowerBound!.seconds)}x bound`,
      '<= 1.0x skopeo, <= 1.15x bound',
    ],
    [`   peak RSS`, `${f(d.cider!.peakRssMB, 0)} MB`, `${f(d.skopeo!.peakRssMB, 0)} MB`, '-', '-', '<= 150 MB'],
    [
      `2. ${formatBytes(sizes.small)}, 25 MB/s per connection`,
      `${f(cappedCider.seconds)} s`,
      `${f(cappedSkopeo.seconds)} s`,
      '-',
      `${f(cappedSkopeo.seconds / cappedCider.seconds)}x faster`,
      '>= 4x faster',
    ],
    [`3. ${formatBytes(sizes.large)} direct, peak RSS`, `${f(largeCider.peakRssMB ?? 0, 0)} MB (${f(largeCider.seconds)} s)`, `${f(largeSkopeo.peakRssMB ?? 0, 0)} MB (${f(largeSkopeo.seconds)} s)`, '-', '-', '<= 150 MB'],
    ['4. kill at ~50%, resume: fetched by resume', `${f(resume.resumedShare * 100, 1)}% of blob`, '-', '-', `${formatBytes(resume.fetchedTwiceBytes)} fetched twice`, '<= 55%'],
  ];
  const publish = results.publish as { cider: Measured; skopeo: Measured };
  const pieces = results.pieces as { cider: Measured; skopeo: Measured };
  rows.push(
    [
      `5. publish ${formatBytes(sizes.small)} IPSW`,
      `${f(publish.cider.seconds)} s, ${f(publish.cider.peakRssMB ?? 0, 0)} MB`,
      `${f(publish.skopeo.seconds)} s, ${f(publish.skopeo.peakRssMB ?? 0, 0)} MB`,
      '-',
      `${f(publish.cider.seconds / publish.skopeo.seconds)}x skopeo`,
      'one read of the IPSW',
    ],
    [
      `6. pull it, 64 MiB pieces checked`,
      `${f(pieces.cider.seconds)} s, ${f(pieces.cider.peakRssMB ?? 0, 0)} MB`,
      `${f(pieces.skopeo.seconds)} s, ${f(pieces.skopeo.peakRssMB ?? 0, 0)} MB`,
      '-',
      `${f(pieces.cider.seconds / pieces.skopeo.seconds)}x skopeo`,
      '-',
    ],
  );
  rows.push([
    `7. ${formatBytes(sizes.small)}: cider (verified, fsynced) vs 6 curl --range into one file`,
    `${f(d.cider!.seconds)} s, ${f(d.cider!.peakRssMB, 0)} MB`,
    '-',
    `curl ${f(d.curlRanges!.seconds)} s (+ fsync ${f(d.curlRangesSync!.seconds)} s); sha256sum ${f(d.sha256sum!.seconds)} s, openssl ${f(d.openssl!.seconds)} s`,
    `${f(d.cider!.seconds / d.curlRanges!.seconds)}x curl`,
    '<= 1.5x curl, <= 150 MB',
  ]);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  console.log(`\n${rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')).join('\n')}`);
  const loads = Object.values(d).flatMap((m) => m.all.map((run) => run.load ?? 0));
  console.log(`\n1-minute load average before the runs of scenarios 1 and 7: ${f(Math.min(...loads))} to ${f(Math.max(...loads))} (${availableParallelism()} cores)`);
}

main().catch((error: unknown) => {
  console.error(`bench failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
