// `npm run bench:lifecycle`: the first step of an image's life and the air-gapped path, each
// against its peers side by side in one run, on a synthetic IPSW in local docker-registries.
//   1. Publish from a URL (a CDN-like server on 127.0.0.1 with Range): `cider image push <url>`
//      (one pass, nothing on disk) vs what people did before (`curl -o` then `cider image push`
//      of the file: two passes and the staging space) vs a lower bound, a plain curl pipeline
//      streaming the URL into one registry PUT (no hashing, no metadata, no resume).
//   2. Export a bundle: `cider bundle export` vs `skopeo copy docker://… oci-archive:…`.
//   3. Import it into a second registry: `cider bundle import` vs `skopeo copy oci-archive:… docker://…`.
//   4. Verify it: `cider bundle verify` (every blob re-hashed) vs `sha256sum` of the tar (one read).
// Wall time and peak RSS of each, and ratios. Prints a table and writes bench-results/lifecycle.json.
// Options: --quick (256 MiB instead of 1 GiB).
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRegistry } from '@cider/services';
import { digestFile, formatBytes, RegistryClient } from '../src/index.ts';
import { makeSyntheticIpsw, startRangeServer } from '../testing/index.ts';
import { fresh, requireTool, syncDisks, timed, type Measured } from './measure.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const cli = join(root, 'apps/cli/dist/cider.js');
const quick = process.argv.includes('--quick');
const MiB = 1024 ** 2;

async function main(): Promise<void> {
  if (!existsSync(cli)) throw new Error(`Build the CLI first: npm run build (missing ${cli})`);
  requireTool('skopeo', 'sudo apt-get install skopeo');
  requireTool('curl', 'sudo apt-get install curl');
  requireTool('sha256sum', 'coreutils');
  const size = quick ? 256 * MiB : 1024 * MiB;
  const work = process.env.CIDER_BENCH_DIR ?? (await mkdtemp(join(tmpdir(), 'cider-bench-lifecycle-')));
  const outside = await startRegistry({ storageDir: join(work, 'registry-outside') });
  const inside = await startRegistry({ storageDir: join(work, 'registry-inside') });
  const client = new RegistryClient();
  const name = 'UniversalMac_15.2_24C101_Restore.ipsw';
  const ipsw = await makeSyntheticIpsw({ dir: work, payloadBytes: size, name });
  const { digest: fileDigest, size: fileSize } = await digestFile(ipsw);
  const cdn = await startRangeServer({ files: { [`/ipsw/${name}`]: ipsw } });
  const url = cdn.url(`/ipsw/${name}`);
  const node = (args: string[]) => timed(process.execPath, [cli, ...args]);
  const results: Record<string, unknown> = { date: new Date().toISOString(), quick, fileBytes: fileSize, load: loadavg()[0], cores: availableParallelism() };
  try {
    // 1. Publish from a URL.
    const staged = join(work, 'staged');
    await fresh(staged);
    syncDisks();
    const fromUrl = await node(['image', 'push', url, `${outside.host}/bench/macos`, '--tag', '15.2']);
    const layer = (await client.repositoryOf(`${outside.host}/bench/macos`).fetchManifest('15.2')).manifest;
    const layerDigest = 'layers' in layer ? layer.layers[0]?.digest : undefined;
    if (layerDigest !== fileDigest) throw new Error(`the pushed layer is ${layerDigest}, the file is ${fileDigest}`);
    syncDisks();
    const twoPass = await timed('bash', ['-c', `curl -sf -o "$1" "$2" && exec "$3" "$4" image push "$1" "$5" --tag 15.2`, 'two-pass', join(staged, name), url, process.execPath, cli, `${outside.host}/bench/macos-two-pass`]);
    await rm(staged, { recursive: true, force: true });
    const session = await fetch(`${outside.url}/v2/bench/curl/blobs/uploads/`, { method: 'POST' });
    const location = new URL(session.headers.get('location') ?? '', outside.url);
    location.searchParams.set('digest', fileDigest);
    syncDisks();
    const curlPipe = await timed('bash', ['-c', `set -o pipefail; curl -sf "$1" | curl -sf -X PUT -H 'content-type: application/octet-stream' -T - "$2" -o /dev/null`, 'curl-pipe', url, location.toString()]);
    results.publish = { cider: fromUrl, twoPass, curlPipe };

    // 2. Export: from the outside registry into a tar.
    const tars = await fresh(join(work, 'tars'));
    const ciderTar = join(tars, 'site.tar');
    const skopeoTar = join(tars, 'skopeo.tar');
    syncDisks();
    const exportCider = await node(['bundle', 'export', `${outside.host}/bench/macos:15.2`, '-o', ciderTar]);
    syncDisks();
    const exportSkopeo = await timed('skopeo', ['copy', '-q', '--src-tls-verify=false', `docker://${outside.host}/bench/macos:15.2`, `oci-archive:${skopeoTar}:bench/macos:15.2`]);
    results.export = { cider: exportCider, skopeo: exportSkopeo, ciderTarBytes: (await stat(ciderTar)).size, skopeoTarBytes: (await stat(skopeoTar)).size };
    await rm(skopeoTar);

    // 3. Import into the inside registry: each tool into its own empty repository.
    syncDisks();
    const importCider = await node(['bundle', 'import', ciderTar, `${inside.host}/cider`]);
    syncDisks();
    const importSkopeo = await timed('skopeo', ['copy', '-q', '--dest-tls-verify=false', `oci-archive:${ciderTar}:bench/macos:15.2`, `docker://${inside.host}/skopeo/bench/macos:15.2`]);
    const roundTrip = await client.repositoryOf(`${inside.host}/cider/bench/macos`).resolve('15.2');
    const original = await client.repositoryOf(`${outside.host}/bench/macos`).resolve('15.2');
    if (roundTrip.digest !== original.digest) throw new Error(`round trip changed the manifest digest: ${original.digest} -> ${roundTrip.digest}`);
    results.import = { cider: importCider, skopeo: importSkopeo, manifestDigest: original.digest };

    // 4. Verify the tar.
    syncDisks();
    const verifyCider = await node(['bundle', 'verify', ciderTar]);
    const verifySum = await timed('sha256sum', [ciderTar]);
    results.verify = { cider: verifyCider, sha256sum: verifySum };

    report(results, fileSize);
    await mkdir(join(root, 'bench-results'), { recursive: true });
    await writeFile(join(root, 'bench-results', 'lifecycle.json'), `${JSON.stringify(results, null, 2)}\n`);
    console.log(`\nwrote ${join(root, 'bench-results', 'lifecycle.json')}`);
  } finally {
    await cdn.close();
    await client.close();
    await outside.stop();
    await inside.stop();
    if (!process.env.CIDER_BENCH_DIR) await rm(work, { recursive: true, force: true });
  }
}

function report(results: Record<string, unknown>, fileBytes: number): void {
  const f = (n: number, digits = 2) => n.toFixed(digits);
  const cell = (m: Measured) => `${f(m.seconds)} s, ${f(m.peakRssMB ?? 0, 0)} MB`;
  const publish = results.publish as { cider: Measured; twoPass: Measured; curlPipe: Measured };
  const exported = results.export as { cider: Measured; skopeo: Measured };
  const imported = results.import as { cider: Measured; skopeo: Measured };
  const verified = results.verify as { cider: Measured; sha256sum: Measured };
  const size = formatBytes(fileBytes);
  const rows = [
    ['scenario', 'cider', 'peer', 'ratio', 'note'],
    [`1. publish ${size} IPSW from a URL`, cell(publish.cider), `curl -o + push: ${cell(publish.twoPass)}`, `${f(publish.cider.seconds / publish.twoPass.seconds)}x`, 'one pass, nothing staged'],
    ['   lower bound', '-', `curl | curl -T (no hash): ${cell(publish.curlPipe)}`, `${f(publish.cider.seconds / publish.curlPipe.seconds)}x`, '-'],
    [`2. bundle export`, cell(exported.cider), `skopeo: ${cell(exported.skopeo)}`, `${f(exported.cider.seconds / exported.skopeo.seconds)}x`, '<= 150 MB'],
    [`3. bundle import`, cell(imported.cider), `skopeo: ${cell(imported.skopeo)}`, `${f(imported.cider.seconds / imported.skopeo.seconds)}x`, '<= 150 MB'],
    [`4. bundle verify`, cell(verified.cider), `sha256sum: ${cell(verified.sha256sum)}`, `${f(verified.cider.seconds / verified.sha256sum.seconds)}x`, 'every blob re-hashed'],
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  console.log(`\n${rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')).join('\n')}`);
  console.log(`\n1-minute load average before the run: ${f(results.load as number)} (${results.cores as number} cores)`);
}

main().catch((error: unknown) => {
  console.error(`bench failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
