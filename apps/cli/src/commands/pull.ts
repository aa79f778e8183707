import { HostCache, parsePlatform, PeerClient, pull, type SwarmOptions } from '@cider/oci';
import { readPeerTicketClaims } from '@cider/protocol';
import type { Command } from 'commander';
import { action } from '../context.ts';

export function registerPull(program: Command): void {
  program
    .command('pull <reference>')
    .description('pull an image into a host cache, verifying every byte; prints the manifest digest last')
    .requiredOption('--cache <dir>', 'cache directory (an OCI image layout)')
    .option('--platform <os/arch>', "platform to take from a multi-platform index (default: this host's)")
    .option('--no-materialize', 'do not link the payload into images/<digest>/')
    .option('--connections <n>', 'parallel connections for one large blob', (v) => Number.parseInt(v, 10), 6)
    .option('--peer <url=ticket>', "also take pieces from another Mac's peer server (http://host:port), with a ticket the control plane issued for it (repeatable; for testing)", collect, [])
    .option('--peers-only', 'take pieces no peer has from the registry only once the peers stall (as a non-origin node does)')
    .action(
      action(async (ctx, reference: string, options: { cache: string; platform?: string; materialize: boolean; connections: number; peer: string[]; peersOnly?: boolean }) => {
        const peers = options.peer.map(peerFrom);
        ctx.defer(() => {
          for (const peer of peers) peer.close();
        });
        const progress = ctx.progress('pull');
        const fed = new Map<string, number>();
        const swarm: SwarmOptions | undefined =
          peers.length > 0
            ? {
                peers: () => peers,
                origin: options.peersOnly !== true,
                onBadPeer: (peer, digest, reason) => process.stderr.write(`dropped peer ${peer.name} for ${digest}: ${reason}\n`),
                onSourceBytes: (source, bytes) => {
                  const key = source === 'registry' ? 'registry' : source.name;
                  fed.set(key, (fed.get(key) ?? 0) + bytes);
                },
              }
            : undefined;
        const cache = await HostCache.open(options.cache);
        const result = await pull({
          client: ctx.client(),
          cache,
          reference,
          platform: options.platform ? parsePlatform(options.platform) : undefined,
          materialize: options.materialize,
          blobFetch: { connections: options.connections },
          ...(swarm ? { swarm } : {}),
          onProgress: (p) => {
            if (p.phase === 'downloading' || p.phase === 'done') progress.update(p.bytesDone, p.bytesTotal);
          },
        });
        progress.stop();
        if (swarm && !ctx.json) for (const [source, bytes] of fed) process.stderr.write(`${source}: ${bytes} bytes of layers\n`);
        ctx.print(swarm ? { ...result, sources: Object.fromEntries(fed) } : result, `${result.imagePath ? `${result.imagePath}\n` : ''}${result.digest}`);
      }),
    );
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** `http://host:port=<ticket>`: the ticket names the reader (this pull) and the server (the peer's node). */
function peerFrom(value: string): PeerClient {
  const at = value.indexOf('=');
  const url = at > 0 ? value.slice(0, at) : '';
  const ticket = value.slice(at + 1);
  const claims = readPeerTicketClaims(ticket);
  if (!/^http:\/\/[^\s/?#]+$/.test(url) || !claims) throw new Error(`--peer ${value.slice(0, 80)}: use http://host:port=<peer ticket> (a ticket the control plane issued)`);
  return new PeerClient({ id: claims.server, name: url.slice('http://'.length), urls: [url], ticket, readerId: claims.reader });
}
