import { formatBytes, isIndex, parseReference, referenceTarget } from '@cider/oci';
import type { Command } from 'commander';
import { action } from '../context.ts';

export function registerInspect(program: Command): void {
  program
    .command('inspect <reference>')
    .description('show an image manifest (or index) and its digest')
    .action(
      action(async (ctx, reference: string) => {
        const ref = parseReference(reference);
        const fetched = await ctx.client().repositoryOf(ref).fetchManifest(referenceTarget(ref));
        const manifest = fetched.manifest;
        const lines = [`Digest:     ${fetched.descriptor.digest}`, `Media type: ${fetched.descriptor.mediaType}`];
        if (manifest.artifactType) lines.push(`Artifact:   ${manifest.artifactType}`);
        if (isIndex(manifest)) {
          for (const m of manifest.manifests) lines.push(`  ${m.platform ? `${m.platform.os}/${m.platform.architecture}` : '-'}  ${m.digest}  ${formatBytes(m.size)}`);
        } else {
          lines.push(`Config:     ${manifest.config.mediaType} ${manifest.config.digest}`);
          for (const layer of manifest.layers) {
            lines.push(`  ${layer.annotations?.['org.opencontainers.image.title'] ?? '(untitled)'}  ${formatBytes(layer.size)}  ${layer.mediaType}  ${layer.digest}`);
          }
        }
        for (const [key, value] of Object.entries(manifest.annotations ?? {})) lines.push(`  ${key}: ${value}`);
        ctx.print({ descriptor: fetched.descriptor, manifest }, lines.join('\n'));
      }),
    );
}
