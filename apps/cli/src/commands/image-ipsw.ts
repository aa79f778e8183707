// Publishing an IPSW from a file or a URL, shared by `cider image push` and `cider image fetch`,
// and Apple's restore-image catalog: `cider image available` lists it, `cider image fetch` picks
// one (--macos, --build, --latest) and pushes it from Apple's CDN with its SHA-1 checked. A URL
// is read with Range requests (urlSource): nothing is written to local disk, whatever its size.
import {
  defaultAppleCatalogUrl,
  fetchAppleCatalog,
  formatBytes,
  inspectIpsw,
  isHttpUrl,
  OciError,
  parseReference,
  pickRestoreImage,
  pushIpsw,
  restoreImageSizes,
  urlSource,
  type ByteSource,
  type ExpectedDigests,
  type Reference,
  type RestoreImage,
  type RestoreImageQuery,
} from '@cider/oci';
import type { Command } from 'commander';
import { fetchTagPolicy } from '../fleet.ts';
import { action, parseAnnotations, type ActionContext } from '../context.ts';

const units: Record<string, number> = { '': 1, b: 1, k: 1e3, kb: 1e3, kib: 1024, m: 1e6, mb: 1e6, mib: 1024 ** 2, g: 1e9, gb: 1e9, gib: 1024 ** 3, t: 1e12, tb: 1e12, tib: 1024 ** 4 };

/** "8GiB", "10GB", "512MiB" or bytes. */
export function parseSize(value: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
  const factor = match ? units[match[2]!.toLowerCase()] : undefined;
  if (!match || factor === undefined) throw new OciError('INVALID_IMAGE', `"${value}" is not a size: use bytes or a unit, e.g. 8GiB or 500MB`);
  return Math.floor(Number(match[1]) * factor);
}

export const collect = (value: string, previous: string[]) => [...previous, value];

export interface PolicyOptions {
  immutableTags?: boolean;
  server?: string;
}

/** Immutable tags when asked, or when the Cider Fleet server says this registry has them. */
export async function immutableTagsFor(ref: Reference, options: PolicyOptions): Promise<boolean> {
  if (options.immutableTags) return true;
  const server = options.server ?? process.env.CIDER_SERVER;
  if (!server) return false;
  return (await fetchTagPolicy(server, ref.registry)).immutableTags;
}

/** An IPSW argument as a ByteSource (a URL, read by range, closed when the command ends) or a path. */
async function openIpsw(ctx: ActionContext, location: string): Promise<ByteSource | string> {
  if (!isHttpUrl(location)) return location;
  const source = await urlSource(location);
  ctx.defer(() => source.close());
  return source;
}

export interface PushFlags extends PolicyOptions {
  tag: string[];
  chunkSize?: string;
  source?: string;
  description?: string;
  annotation: string[];
  sha256?: string;
  sha1?: string;
}

/** Adds the options a push of an IPSW takes, for `push` and `fetch`. */
function withPushOptions(command: Command): Command {
  return command
    .option('--tag <tag>', 'tag to set (repeatable); default: <version> and <version>-<build>', collect, [])
    .option('--chunk-size <size>', 'split the IPSW into ordered layers of at most this size, for registries that cap a layer (e.g. 8GiB)')
    .option('--source <url>', 'where the IPSW came from (org.opencontainers.image.source); default: its URL without query, or its file name')
    .option('--description <text>', 'org.opencontainers.image.description')
    .option('--annotation <key=value>', 'extra manifest annotation (repeatable)', collect, [])
    .option('--immutable-tags', 'refuse to move a tag that already exists')
    .option('--server <url>', 'Cider Fleet server whose tag policy applies (default: $CIDER_SERVER; token in $CIDER_TOKEN)');
}

/** Pushes an IPSW from a path or URL, printing what was pushed and the manifest digest last. */
async function publish(ctx: ActionContext, location: string, repository: string, flags: PushFlags, expect: ExpectedDigests): Promise<void> {
  const ref = parseReference(repository, { defaultTag: false });
  const immutableTags = await immutableTagsFor(ref, flags);
  const opened = await openIpsw(ctx, location);
  const progress = ctx.progress('push');
  const result = await pushIpsw({
    client: ctx.client(),
    ...(typeof opened === 'string' ? { path: opened } : { source: opened }),
    origin: flags.source,
    repository: ref,
    tags: flags.tag.length ? flags.tag : ref.tag ? [ref.tag] : undefined,
    chunkSize: flags.chunkSize ? parseSize(flags.chunkSize) : undefined,
    description: flags.description,
    annotations: parseAnnotations(flags.annotation),
    immutableTags,
    expect,
    onProgress: (p) => progress.update(p.bytesDone, p.bytesTotal, `push ${p.file}`),
  });
  const { ipsw } = result;
  const summary = `${ipsw.os} ${ipsw.version} (${ipsw.build}) ${ipsw.architecture}, ${ipsw.devices.length} devices, ${formatBytes(ipsw.size)}`;
  const lines = [...result.references.map((reference) => `pushed ${reference}`), result.digest];
  ctx.print({ digest: result.digest, references: result.references, config: result.config, manifest: result.manifest }, `${summary}\n${lines.join('\n')}`);
}

/** The catalog to read: --catalog, else $CIDER_APPLE_CATALOG_URL, else Apple's. */
function catalogUrl(option: string | undefined): string {
  return option || process.env.CIDER_APPLE_CATALOG_URL || defaultAppleCatalogUrl;
}

function queryOf(options: { macos?: string; build?: string; latest?: boolean }): RestoreImageQuery {
  const given = [options.macos !== undefined, options.build !== undefined, options.latest === true].filter(Boolean).length;
  if (given !== 1) throw new OciError('INVALID_REFERENCE', 'Say which image to fetch: exactly one of --macos <version>, --build <build> or --latest');
  if (options.macos !== undefined) return { macos: options.macos };
  if (options.build !== undefined) return { build: options.build };
  return { latest: true };
}

function describeImage(image: RestoreImage, size?: number): string {
  const lines = [`macOS ${image.version} (${image.build})`, `url      ${image.url}`];
  if (size !== undefined) lines.push(`size     ${formatBytes(size)}`);
  lines.push(`sha1     ${image.sha1 ?? '(none in the catalog)'}`, `devices  ${image.devices.join(', ')}`);
  return lines.join('\n');
}

export function registerIpswCommands(image: Command): void {
  image
    .command('info <file|url>')
    .description('show what an IPSW is (OS, version, build, devices) without pushing it; reads only the zip directory and plists (by Range requests for a URL)')
    .action(
      action(async (ctx, file: string) => {
        const info = await inspectIpsw(await openIpsw(ctx, file));
        ctx.print(
          info,
          [`${info.os} ${info.version} (${info.build}) ${info.architecture}`, `size     ${formatBytes(info.size)}`, `devices  ${info.devices.join(', ')}`, `tags     ${info.version}, ${info.version}-${info.build}`].join('\n'),
        );
      }),
    );

  withPushOptions(
    image
      .command('push <file|url> <repository>')
      .description('publish an IPSW unmodified, from a file or an http(s) URL (streamed by range, never stored locally), with OS, version, build, devices and architecture read from it; prints the manifest digest last'),
  )
    .option('--sha256 <hex>', "the IPSW's expected SHA-256: checked as it uploads; a mismatch tags nothing")
    .option('--sha1 <hex>', "the IPSW's expected SHA-1 (as Apple's catalog gives it): checked as it uploads")
    .action(action((ctx, file: string, repository: string, options: PushFlags) => publish(ctx, file, repository, options, { sha256: options.sha256, sha1: options.sha1 })));

  image
    .command('available')
    .description("list the macOS restore images in Apple's catalog, newest first")
    .option('--catalog <url>', 'the catalog to read (default: $CIDER_APPLE_CATALOG_URL, else Apple\'s)')
    .option('--sizes', "add each image's size, asking its URL (one small request per image, 4 at a time)")
    .action(
      action(async (ctx, options: { catalog?: string; sizes?: boolean }) => {
        const images = await fetchAppleCatalog(catalogUrl(options.catalog));
        const sizes = options.sizes ? await restoreImageSizes(images) : undefined;
        const sized = images.map((image, i) => (sizes ? { ...image, ...sizes[i] } : image));
        const cells = sized.map((image, i) => [image.version, image.build, ...(sizes ? [sizes[i]!.size !== undefined ? formatBytes(sizes[i]!.size!) : '-'] : []), image.url]);
        const header = ['VERSION', 'BUILD', ...(sizes ? ['SIZE'] : []), 'URL'];
        const widths = header.map((title, column) => Math.max(title.length, ...cells.map((row) => row[column]!.length)));
        const line = (row: string[]) => row.map((cell, column) => (column < row.length - 1 ? cell.padEnd(widths[column]!) : cell)).join('  ');
        // A size that could not be learned says why on stderr, so stdout stays the table.
        if (sizes && !ctx.json) for (const [i, size] of sizes.entries()) if (size.error) process.stderr.write(`${images[i]!.build}: ${size.error}\n`);
        ctx.print(sized, [line(header), ...cells.map(line)].join('\n'));
      }),
    );

  withPushOptions(
    image
      .command('fetch <repository>')
      .description("pick a macOS restore image from Apple's catalog and publish it straight from Apple's CDN (never stored locally), its SHA-1 checked; prints the manifest digest last")
      .option('--macos <version>', 'that version: 15.2 exactly, or 15 for the newest 15.x')
      .option('--build <build>', 'that build, e.g. 24C101')
      .option('--latest', 'the newest image the virtual Mac (VirtualMac2,1) restores')
      .option('--catalog <url>', 'the catalog to read (default: $CIDER_APPLE_CATALOG_URL, else Apple\'s)')
      .option('--dry-run', 'say which image it would push, and push nothing'),
  ).action(
    action(async (ctx, repository: string, options: PushFlags & { macos?: string; build?: string; latest?: boolean; catalog?: string; dryRun?: boolean }) => {
      const query = queryOf(options);
      parseReference(repository, { defaultTag: false });
      const picked = pickRestoreImage(await fetchAppleCatalog(catalogUrl(options.catalog)), query);
      if (options.dryRun) {
        // One small request: the size, and that the URL answers (the push would fail if it did not).
        const source = await openIpsw(ctx, picked.url);
        const size = typeof source === 'string' ? undefined : source.size;
        ctx.print({ image: picked, size, repository, dryRun: true }, `${describeImage(picked, size)}\ndry run: nothing pushed to ${repository}`);
        return;
      }
      if (!ctx.json) process.stderr.write(`${describeImage(picked)}\n`);
      await publish(ctx, picked.url, repository, options, { sha1: picked.sha1 });
    }),
  );
}
