import { pushArtifact } from '@cider/oci';
import type { Command } from 'commander';
import { action, parseAnnotations } from '../context.ts';

export function registerPush(program: Command): void {
  program
    .command('push <reference> <files...>')
    .description('push files as an OCI 1.1 artifact; prints the manifest digest last')
    .option('--artifact-type <type>', 'the artifact type, e.g. application/vnd.cider.image.v1')
    .option('--media-type <type>', 'media type of every file layer', 'application/octet-stream')
    .option('--annotation <key=value...>', 'manifest annotations', [])
    .action(
      action(async (ctx, reference: string, files: string[], options: { artifactType?: string; mediaType: string; annotation: string[] }) => {
        const progress = ctx.progress('push');
        const result = await pushArtifact({
          client: ctx.client(),
          reference,
          files: files.map((path) => ({ path, mediaType: options.mediaType })),
          artifactType: options.artifactType,
          annotations: parseAnnotations(options.annotation),
          onProgress: (event) => progress.update(event.bytesDone, event.bytesTotal, `${event.phase} ${event.file}`),
        });
        ctx.print({ digest: result.digest, reference: result.reference, manifest: result.manifest }, result.digest);
      }),
    );
}
