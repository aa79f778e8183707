import { HostCache, parsePlatform, pull } from '@cider/oci';
import type { Command } from 'commander';
import { clientFor, fail, output, type GlobalOptions } from '../context.ts';
import { createProgress } from '../progress.ts';

export function registerPull(program: Command): void {
  program
    .command('pull <reference>')
    .description('pull an image into a host cache, verifying every byte; prints the manifest digest last')
    .requiredOption('--cache <dir>', 'cache directory (an OCI image layout)')
    .option('--platform <os/arch>', "platform to take from a multi-platform index (default: this host's)")
    .option('--no-materialize', 'do not link the payload into images/<digest>/')
    .option('--connections <n>', 'parallel connections for one large blob', (v) => Number.parseInt(v, 10), 6)
    .action(async (reference: string, options: { cache: string; platform?: string; materialize: boolean; connections: number }, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const json = globals.json === true;
      const client = clientFor(globals);
      const progress = createProgress({ json, label: 'pull' });
      try {
        const cache = await HostCache.open(options.cache);
        const result = await pull({
          client,
          cache,
          reference,
          platform: options.platform ? parsePlatform(options.platform) : undefined,
          materialize: options.materialize,
          blobFetch: { connections: options.connections },
          onProgress: (p) => {
            if (p.phase === 'downloading' || p.phase === 'done') progress.update(p.bytesDone, p.bytesTotal);
          },
        });
        progress.stop();
        output(json, result, `${result.imagePath ? `${result.imagePath}\n` : ''}${result.digest}`);
      } catch (error) {
        progress.stop();
        fail(error, json);
      } finally {
        await client.close();
      }
    });
}
