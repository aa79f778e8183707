// `cider bundle`: carry images to an air-gapped site as one file. export writes the images (all
// platforms, with their referrers) as one OCI image layout tar, the `oci-archive` skopeo and oras
// read; verify re-hashes it after the trip; import pushes it into the inside registry. Every byte
// is checked against its digest on the way out and on the way in; memory stays flat at any size.
import { exportBundle, formatBytes, importBundle, shortDigest, verifyBundle, type BundleProgress } from '@cider/oci';
import type { Command } from 'commander';
import { action } from '../context.ts';

const label = (verb: string, progress: BundleProgress) => (progress.digest ? `${verb} ${shortDigest(progress.digest)}` : verb);

export function registerBundle(program: Command): void {
  const bundle = program.command('bundle').description('carry images to air-gapped sites as one verified tar (an OCI image layout, oci-archive to skopeo)');

  // Each command takes ctx.signal: Ctrl-C stops it cleanly (an export removes its .partial)
  // instead of killing the process mid-write.
  bundle
    .command('export <references...>')
    .description('write images, every platform and their referrers (SBOMs, signatures), into one tar; prints its path last')
    .requiredOption('-o, --output <file>', 'the tar to write; an existing file is never overwritten')
    .option('--no-referrers', 'leave referrers (SBOMs, signatures, attachments) out')
    .action(
      action(async (ctx, references: string[], options: { output: string; referrers: boolean }) => {
        const progress = ctx.progress('export');
        const plan = await exportBundle({
          client: ctx.client(),
          references,
          path: options.output,
          referrers: options.referrers,
          signal: ctx.signal,
          onProgress: (p) => progress.update(p.bytesDone, p.bytesTotal, label('export', p)),
        });
        const lines = plan.images.map((image) => `${image.refName}  ${image.digest}${image.referrers.length ? `  (+${image.referrers.length} referrers)` : ''}`);
        const summary = `${plan.images.length} images, ${plan.blobs.length} blobs, ${formatBytes(plan.tarBytes)}`;
        ctx.print({ path: options.output, images: plan.images, blobs: plan.blobs.length, tarBytes: plan.tarBytes, contentBytes: plan.contentBytes }, [...lines, summary, options.output].join('\n'));
      }),
    );

  bundle
    .command('import <file> <target>')
    .description('push every image of a bundle to <registry>[/prefix], checking each blob as it is read; blobs the registry has are skipped or mounted, so a rerun resumes')
    .addHelpText(
      'after',
      '\nAn image named <repository>:<tag> in the bundle goes to <registry>/<prefix>/<repository>:<tag>.\nA bundle naming images by tag only (skopeo\'s oci-archive:file.tar:<tag>) needs the repository as the prefix:\n  cider bundle import site.tar registry.site.local/macos',
    )
    .action(
      action(async (ctx, file: string, target: string) => {
        const progress = ctx.progress('import');
        const result = await importBundle({ client: ctx.client(), path: file, target, signal: ctx.signal, onProgress: (p) => progress.update(p.bytesDone, p.bytesTotal, label('import', p)) });
        const lines = result.images.map((image) => `imported ${image.reference}  ${image.digest}`);
        const summary = `${result.uploaded} blobs uploaded (${formatBytes(result.bytesUploaded)}), ${result.mounted} mounted, ${result.skipped} already there`;
        ctx.print(result, [...lines, summary].join('\n'));
      }),
    );

  bundle
    .command('verify <file>')
    .description('re-hash every blob of a bundle and check that everything its images name is there; exits 1 naming each problem')
    .action(
      action(async (ctx, file: string) => {
        const progress = ctx.progress('verify');
        const result = await verifyBundle(file, { signal: ctx.signal, onProgress: (p) => progress.update(p.bytesDone, p.bytesTotal, label('verify', p)) });
        const images = result.images.map((image) => `${image.refName}  ${image.digest}`);
        const problems = result.problems.map((p) => `bad  ${p.digest ?? p.entry ?? file}: ${p.reason}`);
        const summary = result.ok
          ? `ok: ${result.images.length} images, ${result.blobs} blobs, ${formatBytes(result.bytes)} verified`
          : `${file} is damaged: ${result.problems.length} problem${result.problems.length === 1 ? '' : 's'}`;
        ctx.print(result, [...images, ...problems, summary].join('\n'));
        if (!result.ok) process.exitCode = 1;
      }),
    );
}
