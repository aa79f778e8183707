import { pushArtifact } from '@cider/oci';
import type { Command } from 'commander';
import { clientFor, fail, output, parseAnnotations, type GlobalOptions } from '../context.ts';
import { createProgress } from '../progress.ts';

export function registerPush(program: Command): void {
  program
    .command('push <reference> <files...>')
    .description('push files as an OCI 1.1 artifact; prints the manifest digest last')
    .option('--artifact-type <type>', 'the artifact type, e.g. application/vnd.cider.image.v1')
    .option('--media-type <type>', 'media type of every file layer', 'application/octet-stream')
    .option('--annotation <key=value...>', 'manifest annotations', [])
    .action(async (reference: string, files: string[], options: { artifactType?: string; mediaType: string; annotation: string[] }, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const json = globals.json === true;
      const client = clientFor(globals);
      const progress = createProgress({ json, label: 'push' });
      try {
        const result = await pushArtifact({
          client,
          reference,
          files: files.map((path) => ({ path, mediaType: options.mediaType })),
          artifactType: options.artifactType,
          annotations: parseAnnotations(options.annotation),
          onProgress: (event) => progress.update(event.bytesDone, event.bytesTotal, `${event.phase} ${event.file}`),
        });
        progress.stop();
        output(json, { digest: result.digest, reference: result.reference, manifest: result.manifest }, result.digest);
      } catch (error) {
        progress.stop();
        fail(error, json);
      } finally {
        await client.close();
      }
    });
}
