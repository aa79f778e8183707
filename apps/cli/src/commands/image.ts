// `cider image`: publish base images. push (an IPSW, facts read from it), import (other OS image
// kinds), index (one tag, several platforms), attach and referrers (SBOMs, signatures, notes),
// info (what an IPSW is, without pushing it).
import {
  attachReferrer,
  formatBytes,
  formatPlatform,
  imageKinds,
  inspectIpsw,
  OciError,
  parsePlatform,
  parseReference,
  pushImage,
  pushIndex,
  pushIpsw,
  referrersOf,
  type ImageFileInput,
  type ImageKind,
  type PushImageResult,
  type Reference,
} from '@cider/oci';
import type { Command } from 'commander';
import { clientFor, fail, output, parseAnnotations, type GlobalOptions } from '../context.ts';
import { fetchTagPolicy } from '../fleet.ts';
import { createProgress } from '../progress.ts';

const units: Record<string, number> = { '': 1, b: 1, k: 1e3, kb: 1e3, kib: 1024, m: 1e6, mb: 1e6, mib: 1024 ** 2, g: 1e9, gb: 1e9, gib: 1024 ** 3, t: 1e12, tb: 1e12, tib: 1024 ** 4 };

/** "8GiB", "10GB", "512MiB" or bytes. */
export function parseSize(value: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
  const factor = match ? units[match[2]!.toLowerCase()] : undefined;
  if (!match || factor === undefined) throw new OciError('INVALID_IMAGE', `"${value}" is not a size: use bytes or a unit, e.g. 8GiB or 500MB`);
  return Math.floor(Number(match[1]) * factor);
}

const collect = (value: string, previous: string[]) => [...previous, value];

interface PolicyOptions {
  immutableTags?: boolean;
  server?: string;
}

/** Immutable tags when asked, or when the Cider Fleet server says this registry has them. */
async function immutableTagsFor(ref: Reference, options: PolicyOptions): Promise<boolean> {
  if (options.immutableTags) return true;
  const server = options.server ?? process.env.CIDER_SERVER;
  if (!server) return false;
  return (await fetchTagPolicy(server, ref.registry)).immutableTags;
}

function describePush(result: PushImageResult): string {
  const lines = result.references.map((reference) => `pushed ${reference}`);
  return [...lines, result.digest].join('\n');
}

export function registerImage(program: Command): void {
  const image = program.command('image').description('publish base images: IPSWs, other OS images, multi-platform indexes, attachments');

  image
    .command('info <file>')
    .description("show what an IPSW is (OS, version, build, devices) without pushing it; reads only the zip directory and plists")
    .action(async (file: string, _options: unknown, command: Command) => {
      const json = command.optsWithGlobals<GlobalOptions>().json === true;
      try {
        const info = await inspectIpsw(file);
        output(
          json,
          info,
          [`${info.os} ${info.version} (${info.build}) ${info.architecture}`, `size     ${formatBytes(info.size)}`, `devices  ${info.devices.join(', ')}`, `tags     ${info.version}, ${info.version}-${info.build}`].join('\n'),
        );
      } catch (error) {
        fail(error, json);
      }
    });

  image
    .command('push <file> <repository>')
    .description('publish an IPSW unmodified, with OS, version, build, devices and architecture read from it; prints the manifest digest last')
    .option('--tag <tag>', 'tag to set (repeatable); default: <version> and <version>-<build>', collect, [])
    .option('--chunk-size <size>', 'split the IPSW into ordered layers of at most this size, for registries that cap a layer (e.g. 8GiB)')
    .option('--source <url>', 'where the IPSW came from (org.opencontainers.image.source); default: its file name')
    .option('--description <text>', 'org.opencontainers.image.description')
    .option('--annotation <key=value>', 'extra manifest annotation (repeatable)', collect, [])
    .option('--immutable-tags', 'refuse to move a tag that already exists')
    .option('--server <url>', 'Cider Fleet server whose tag policy applies (default: $CIDER_SERVER; token in $CIDER_TOKEN)')
    .action(async (file: string, repository: string, options: PolicyOptions & { tag: string[]; chunkSize?: string; source?: string; description?: string; annotation: string[] }, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const json = globals.json === true;
      const client = clientFor(globals);
      const progress = createProgress({ json, label: 'push' });
      try {
        const ref = parseReference(repository, { defaultTag: false });
        const immutableTags = await immutableTagsFor(ref, options);
        const result = await pushIpsw({
          client,
          path: file,
          repository: ref,
          tags: options.tag.length ? options.tag : ref.tag ? [ref.tag] : undefined,
          chunkSize: options.chunkSize ? parseSize(options.chunkSize) : undefined,
          source: options.source,
          description: options.description,
          annotations: parseAnnotations(options.annotation),
          immutableTags,
          onProgress: (p) => progress.update(p.bytesDone, p.bytesTotal, `push ${p.file}`),
        });
        progress.stop();
        const { ipsw } = result;
        const summary = `${ipsw.os} ${ipsw.version} (${ipsw.build}) ${ipsw.architecture}, ${ipsw.devices.length} devices, ${formatBytes(ipsw.size)}`;
        output(json, { digest: result.digest, references: result.references, config: result.config, manifest: result.manifest }, `${summary}\n${describePush(result)}`);
      } catch (error) {
        progress.stop();
        fail(error, json);
      } finally {
        await client.close();
      }
    });

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
  importCommand.action(async (repository: string, options: PolicyOptions & Record<string, unknown>, command: Command) => {
    const globals = command.optsWithGlobals<GlobalOptions>();
    const json = globals.json === true;
    const client = clientFor(globals);
    const progress = createProgress({ json, label: 'import' });
    try {
      const ref = parseReference(repository, { defaultTag: false });
      const platform = parsePlatform(String(options.platform));
      const files: ImageFileInput[] = kinds.flatMap((kind) => ((options[kind] as string[] | undefined) ?? []).map((path) => ({ path, kind })));
      if (files.length === 0) throw new OciError('INVALID_IMAGE', `Nothing to import: give at least one file with ${kinds.map((k) => `--${k}`).join(', ')}`);
      const tags = options.tag as string[];
      const result = await pushImage({
        client,
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
      progress.stop();
      output(json, { digest: result.digest, references: result.references, config: result.config, manifest: result.manifest }, `${formatPlatform(platform)}: ${files.length} files\n${describePush(result)}`);
    } catch (error) {
      progress.stop();
      fail(error, json);
    } finally {
      await client.close();
    }
  });

  image
    .command('index <reference> <images...>')
    .description("put per-platform images under one tag (an OCI index); a pull then takes the host's platform; prints the index digest last")
    .option('--immutable-tags', 'refuse to move a tag that already exists')
    .option('--server <url>', 'Cider Fleet server whose tag policy applies (default: $CIDER_SERVER)')
    .action(async (reference: string, images: string[], options: PolicyOptions, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const json = globals.json === true;
      const client = clientFor(globals);
      try {
        const ref = parseReference(reference, { defaultTag: false });
        const result = await pushIndex({ client, reference: ref, images, immutableTags: await immutableTagsFor(ref, options) });
        const lines = result.index.manifests.map((m) => `${formatPlatform(m.platform!)}  ${m.digest}`);
        output(json, result, [...lines, `pushed ${result.reference}`, result.digest].join('\n'));
      } catch (error) {
        fail(error, json);
      } finally {
        await client.close();
      }
    });

  image
    .command('attach <reference> <file>')
    .description('attach a file (SBOM, signature, release notes) to an image as a referrer; prints the referrer digest last')
    .requiredOption('--artifact-type <type>', 'what the file is, e.g. application/spdx+json')
    .option('--media-type <type>', "the file's media type", 'application/octet-stream')
    .option('--annotation <key=value>', 'annotation on the referrer (repeatable)', collect, [])
    .action(async (reference: string, file: string, options: { artifactType: string; mediaType: string; annotation: string[] }, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const json = globals.json === true;
      const client = clientFor(globals);
      try {
        const result = await attachReferrer({ client, subject: reference, path: file, artifactType: options.artifactType, mediaType: options.mediaType, annotations: parseAnnotations(options.annotation) });
        const how = result.via === 'api' ? 'the registry indexes it (referrers API)' : 'listed under the referrers tag (this registry has no referrers API)';
        output(json, result, `attached ${file} to ${result.subject.digest}: ${how}\n${result.descriptor.digest}`);
      } catch (error) {
        fail(error, json);
      } finally {
        await client.close();
      }
    });

  image
    .command('referrers <reference>')
    .description('list what is attached to an image (referrers API, or the tag fallback)')
    .option('--artifact-type <type>', 'only referrers of this type')
    .action(async (reference: string, options: { artifactType?: string }, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const json = globals.json === true;
      const client = clientFor(globals);
      try {
        const result = await referrersOf(client, reference, options.artifactType);
        const rows = result.referrers.map((d) =>
          [d.digest, d.artifactType ?? '-', formatBytes(d.size), d.annotations?.['org.opencontainers.image.title'] ?? '', d.annotations?.['org.opencontainers.image.created'] ?? ''].join('  '),
        );
        output(json, result, rows.length ? rows.join('\n') : `nothing is attached to ${result.subject.digest}`);
      } catch (error) {
        fail(error, json);
      } finally {
        await client.close();
      }
    });
}
