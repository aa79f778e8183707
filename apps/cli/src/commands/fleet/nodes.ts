// `cider fleet nodes ls|show|revoke`.
import type { ResponseOf } from '@cider/api';
import type { Command } from 'commander';
import { FleetError } from '../../fleet/errors.ts';
import { ago, labelsText, moreLine, parseLimit, readPages, short, size, table } from '../../fleet/format.ts';
import { promptLine } from '../../prompt.ts';
import { fleetAction } from './run.ts';

type Node = ResponseOf<'nodes.list'>['items'][number];
type NodeDetail = ResponseOf<'nodes.get'>;

const syncText = (n: Node) => `${n.sync.state}${n.sync.state === 'fetching' && n.sync.percent !== null ? ` ${n.sync.percent}%` : ''} (${n.sync.held}/${n.sync.pinned})`;

function detailText(n: NodeDetail): string {
  const f = n.facts;
  const lines = [
    `Name:       ${n.name}`,
    `ID:         ${n.id}`,
    `Status:     ${n.status}${n.revokedAt ? ` (revoked ${ago(n.revokedAt)})` : ''}`,
    `Last seen:  ${ago(n.lastSeenAt)}`,
    `Agent:      ${n.agentVersion ?? '-'}`,
    `Labels:     ${labelsText(n.labels)}`,
  ];
  if (f) {
    lines.push(
      `Host:       ${f.hostname}, ${f.os.platform} ${f.os.version ?? f.os.release} ${f.architecture}, ${f.cpu.cores} cores, ${size(f.memoryBytes)} memory`,
      `Disk:       ${size(f.disk.freeBytes)} free of ${size(f.disk.totalBytes)}`,
      `Cache:      ${size(f.cache.bytes)}${f.cache.quotaBytes ? ` of ${size(f.cache.quotaBytes)} quota` : ''} at ${f.cache.path}`,
    );
  }
  for (const c of n.conditions) lines.push(`Condition:  ${c.type}: ${c.message}`);
  lines.push('', n.images.length ? table([['DIGEST', 'REFERENCE', 'SIZE', 'VERIFIED', 'LAST USED', 'PINNED BY'], ...n.images.map((i) => [short(i.digest), i.reference ?? '-', size(i.size), ago(i.verifiedAt), ago(i.lastUsedAt), i.pinnedBy.map((p) => p.projectName).join(', ') || '-'])]) : 'No images in its cache.');
  if (n.missing.length) {
    lines.push('', 'Missing (pinned for this node, not in its cache yet):');
    for (const m of n.missing) lines.push(`  ${short(m.digest)}  ${m.pinnedBy.map((p) => `${p.reference} (${p.projectName})`).join(', ')}`);
  }
  return lines.join('\n');
}

export function registerFleetNodes(fleet: Command): void {
  const nodes = fleet.command('nodes').description('the Macs running the agent');

  nodes
    .command('ls')
    .description('list nodes by name')
    .option('--search <text>', 'part of the name')
    .option('--state <state>', 'online, offline or revoked')
    .option('--sync <sync>', 'in-sync, behind, fetching, failed or drift')
    .option('--label <label>', 'key=value, or key for any value')
    .option('--limit <n>', 'at most this many (default 100)')
    .action(
      fleetAction(async (ctx, options: { search?: string; state?: string; sync?: string; label?: string; limit?: string }) => {
        const limit = parseLimit(options.limit);
        const states = ['online', 'offline', 'revoked'] as const;
        const syncs = ['in-sync', 'behind', 'fetching', 'failed', 'drift'] as const;
        const state = states.find((s) => s === options.state);
        const sync = syncs.find((s) => s === options.sync);
        if (options.state && !state) throw new FleetError('USAGE', `--state ${options.state}: use ${states.join(', ')}.`);
        if (options.sync && !sync) throw new FleetError('USAGE', `--sync ${options.sync}: use ${syncs.join(', ')}.`);
        const client = await ctx.client();
        const listed = await readPages(limit, 200, (cursor, size) => client.call('nodes.list', { query: { search: options.search, label: options.label, state, sync, cursor, limit: size } }));
        const rows = listed.items.map((n) => [n.name, n.status, syncText(n), String(n.images), size(n.cacheBytes), n.diskFreeBytes === null ? '-' : `${size(n.diskFreeBytes)}`, ago(n.lastSeenAt), labelsText(n.labels)]);
        ctx.print(listed, listed.items.length ? table([['NAME', 'STATUS', 'SYNC', 'IMAGES', 'CACHE', 'DISK FREE', 'LAST SEEN', 'LABELS'], ...rows]) + moreLine(listed, 'nodes') : 'No nodes match.');
      }),
    );

  nodes
    .command('show <node>')
    .description('one node (id or name): facts, cache, what it is missing')
    .action(
      fleetAction(async (ctx, node: string) => {
        const detail = await (await ctx.client()).call('nodes.get', { params: { node } });
        ctx.print(detail, detailText(detail));
      }),
    );

  nodes
    .command('revoke <node>')
    .description('revoke a node: its agent is disconnected and refused from now on (admins)')
    .option('--yes', 'do not ask for confirmation')
    .action(
      fleetAction(async (ctx, node: string, options: { yes?: boolean }) => {
        if (!options.yes) {
          if (process.stdin.isTTY !== true) throw new FleetError('USAGE', `Revoking ${node} cannot be undone by the node: add --yes to confirm when stdin is not a terminal.`);
          const answer = await promptLine(`Revoke ${node}? Its agent is disconnected and must enroll again. Type the node's name to confirm: `);
          if (answer !== node) throw new FleetError('USAGE', 'Not confirmed: nothing was revoked.');
        }
        const result = await (await ctx.client()).call('nodes.revoke', { params: { node } });
        ctx.print(result, result.message);
      }),
    );
}
