// `cider image`: publish base images. push (an IPSW from a file or URL, facts read from it),
// available and fetch (Apple's catalog; ./image-ipsw.ts), import (other OS image kinds), index
// (one tag, several platforms), attach and referrers (SBOMs, signatures, notes), info (what an
// IPSW is, without pushing it).
import {
  attachReferrer,
  formatBytes,
  formatPlatform,
  imageKinds,
  OciError,
  parsePlatform,
  parseReference,
  pushImage,
  pushIndex,
  referrersOf,
  type ImageFileInput,
  type ImageKind,
  type PushImageResult,
} from '@cider/oci';
import type { Command } from 'commander';
import { action, parseAnnotations } from '../context.ts';
import { collect, immutableTagsFor, parseSize, registerIpswCommands, type PolicyOptions } from './image-ipsw.ts';

export { parseSize } from './image-ipsw.ts';

function describePush(result: PushImageResult): string {
  const lines = result.references.map((reference) => `pushed ${reference}`);
  return [...lines, result.digest].join('\n');
}

export function registerImage(program: Command): void {
  const image = program.command('image').description('publish base images: IPSWs, other OS images, multi-platform indexes, attachments');

  registerIpswCommands(image);

  const importCommand = image
    .command('import <repository>')
    .description('publish another OS image: each file a layer with its kind\'s media type; prints the manifest digest last')
    .requiredOption('--platform <os/arch>', 'the platform the image is for, e.g. linux/amd64')
    .option('--tag <tag>', 'tag to set (repeatable); default: the tag in <repository>', collect, [])
    .option('--os-version <version>', 'the OS version (org.opencontainers.image.version)')
    .option('--os-name <name>', 'the OS name people read, e.g. "Garden Linux"; default: the platform OS')
    .option('--chunk-size <size>', 'split large files into ordered layers of at most this size')
    .option('--source <url>', 'org.opencontainers.image.source')
    .option('--description <text>', 'org.opencontainers.image.description')
    .option('--annotation <key=value>', 'extra manifest annotation (repeatable)', collect, [])
    .option('--immutable-tags', 'refuse to move a tag that already exists')
    .option('--server <url>', 'Cider Fleet server whose tag policy applies (default: $CIDER_SERVER)');
  const kinds = (Object.keys(imageKinds) as ImageKind[]).filter((kind) => kind !== 'ipsw');
  for (const kind of kinds) importCommand.option(`--${kind} <file>`, `${kind} file (repeatable)`, collect, []);
  importCommand.action(
    action(async (ctx, repository: string, options: PolicyOptions & Record<string, unknown>) => {
      const ref = parseReference(repository, { defaultTag: false });
      const platform = parsePlatform(String(options.platform));
      const files: ImageFileInput[] = kinds.flatMap((kind) => ((options[kind] as string[] | undefined) ?? []).map((path) => ({ path, kind })));
      if (files.length === 0) throw new OciError('INVALID_IMAGE', `Nothing to import: give at least one file with ${kinds.map((k) => `--${k}`).join(', ')}`);
      const tags = options.tag as string[];
      const progress = ctx.progress('import');
      const result = await pushImage({
        client: ctx.client(),
        repository: ref,
        files,
        facts: { os: typeof options.osName === 'string' ? options.osName : platform.os, ...(typeof options.osVersion === 'string' ? { version: options.osVersion } : {}), architecture: platform.architecture, platform },
        tags: tags.length ? tags : ref.tag ? [ref.tag] : [],
        chunkSize: typeof options.chunkSize === 'string' ? parseSize(options.chunkSize) : undefined,
        source: typeof options.source === 'string' ? options.source : undefined,
        description: typeof options.description === 'string' ? options.description : undefined,
        annotations: parseAnnotations(options.annotation as string[]),
        immutableTags: await immutableTagsFor(ref, options),
        onProgress: (p) => progress.update(p.bytesDone, p.bytesTotal, `import ${p.file}`),
      });
      ctx.print({ digest: result.digest, references: result.references, config: result.config, manifest: result.manifest }, `${formatPlatform(platform)}: ${files.length} files\n${describePush(result)}`);
    }),
  );

  image
    .command('index <reference> <images...>')
    .description("put per-platform images under one tag (an OCI index); a pull then takes the host's platform; prints the index digest last")
    .option('--immutable-tags', 'refuse to move a tag that already exists')
    .option('--server <url>', 'Cider Fleet server whose tag policy applies (default: $CIDER_SERVER)')
    .action(
      action(async (ctx, reference: string, images: string[], options: PolicyOptions) => {
        const ref = parseReference(reference, { defaultTag: false });
        const result = await pushIndex({ client: ctx.client(), reference: ref, images, immutableTags: await immutableTagsFor(ref, options) });
        const lines = result.index.manifests.map((m) => `${formatPlatform(m.platform!)}  ${m.digest}`);
        ctx.print(result, [...lines, `pushed ${result.reference}`, result.digest].join('\n'));
      }),
    );

  image
    .command('attach <reference> <file>')
    .description('attach a file (SBOM, signature, release notes) to an image as a referrer; prints the referrer digest last')
    .requiredOption('--artifact-type <type>', 'what the file is, e.g. application/spdx+json')
    .option('--media-type <type>', "the file's media type", 'application/octet-stream')
    .option('--annotation <key=value>', 'annotation on the referrer (repeatable)', collect, [])
    .action(
      action(async (ctx, reference: string, file: string, options: { artifactType: string; mediaType: string; annotation: string[] }) => {
        const result = await attachReferrer({ client: ctx.client(), subject: reference, path: file, artifactType: options.artifactType, mediaType: options.mediaType, annotations: parseAnnotations(options.annotation) });
        const how = result.via === 'api' ? 'the registry indexes it (referrers API)' : 'listed under the referrers tag (this registry has no referrers API)';
        ctx.print(result, `attached ${file} to ${result.subject.digest}: ${how}\n${result.descriptor.digest}`);
      }),
    );

  image
    .command('referrers <reference>')
    .description('list what is attached to an image (referrers API, or the tag fallback)')
    .option('--artifact-type <type>', 'only referrers of this type')
    .action(
      action(async (ctx, reference: string, options: { artifactType?: string }) => {
        const result = await referrersOf(ctx.client(), reference, options.artifactType);
        const rows = result.referrers.map((d) =>
          [d.digest, d.artifactType ?? '-', formatBytes(d.size), d.annotations?.['org.opencontainers.image.title'] ?? '', d.annotations?.['org.opencontainers.image.created'] ?? ''].join('  '),
        );
        ctx.print(result, rows.length ? rows.join('\n') : `nothing is attached to ${result.subject.digest}`);
      }),
    );
}
