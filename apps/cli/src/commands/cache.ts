import { formatBytes, fsck, HostCache, prune, shortDigest } from '@cider/oci';
import type { Command } from 'commander';
import { action } from '../context.ts';

function ago(iso: string | undefined): string {
  if (!iso) return '-';
  const seconds = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (seconds < 90) return 'just now';
  if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 129600) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} d ago`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

export function registerCache(program: Command): void {
  const cache = program.command('cache').description('inspect and maintain a host cache');

  cache
    .command('ls')
    .description('list held images: tags, digests, sizes, last used')
    .requiredOption('--cache <dir>', 'cache directory')
    .action(
      action(async (ctx, options: { cache: string }) => {
        const images = await (await HostCache.open(options.cache)).listImages();
        const rows = [['REFERENCE', 'TAGS', 'DIGEST', 'SIZE', 'PULLED', 'LAST USED']];
        for (const image of images) {
          rows.push([image.reference ?? '-', image.tags.join(',') || '-', shortDigest(image.digest), formatBytes(image.size), ago(image.pulledAt), ago(image.lastUsedAt)]);
        }
        ctx.print(images, images.length ? table(rows) : 'The cache holds no images.');
      }),
    );

  cache
    .command('prune')
    .description('remove unreferenced blobs and stale partial downloads (never an image in use)')
    .requiredOption('--cache <dir>', 'cache directory')
    .option('--dry-run', 'only say what would be removed')
    .action(
      action(async (ctx, options: { cache: string; dryRun?: boolean }) => {
        const report = await prune(await HostCache.open(options.cache), { dryRun: options.dryRun });
        const verb = options.dryRun ? 'would remove' : 'removed';
        const lines = [
          ...report.removedBlobs.map((b) => `${verb} blob ${b.digest} (${formatBytes(b.size)})`),
          ...report.removedImages.map((i) => `${verb} materialized image ${i}`),
          ...report.removedIngests.map((i) => `${verb} partial download ${i}`),
          `${options.dryRun ? 'would free' : 'freed'} ${formatBytes(report.freedBytes)}`,
        ];
        ctx.print(report, lines.join('\n'));
      }),
    );

  cache
    .command('fsck')
    .description('re-hash every blob; report and quarantine bad ones')
    .requiredOption('--cache <dir>', 'cache directory')
    .action(
      action(async (ctx, options: { cache: string }) => {
        const progress = ctx.progress('fsck');
        const store = await HostCache.open(options.cache);
        const total = await store.blobBytes();
        let done = 0;
        const report = await fsck(store, { onBlob: (_digest, size) => progress.update((done += size), total) });
        const lines = [`checked ${report.blobsChecked} blobs (${formatBytes(report.bytesChecked)})`];
        for (const q of report.quarantined) lines.push(`BAD ${q.digest}: ${q.problem}; moved to ${q.path}`);
        for (const m of report.missing) lines.push(`MISSING ${m.digest}: ${m.problem}`);
        for (const b of report.brokenImages) lines.push(`BROKEN IMAGE ${b.path}: ${b.problem}`);
        lines.push(report.ok ? 'cache is consistent' : 'problems found: pull the affected images again');
        ctx.print(report, lines.join('\n'));
        if (!report.ok) process.exitCode = 1;
      }),
    );
}
