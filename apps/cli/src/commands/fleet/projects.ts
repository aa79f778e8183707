// `cider fleet projects ls` and `cider fleet pins ls|set|rm`.
import type { ResponseOf } from '@cider/api';
import type { Command } from 'commander';
import { FleetError } from '../../fleet/errors.ts';
import { ago, moreLine, parseDuration, parseLimit, readPages, short, table } from '../../fleet/format.ts';
import { summary, waitForRollout } from '../../fleet/wait.ts';
import { fleetAction } from './run.ts';

type Pin = ResponseOf<'pins.get'>;

const pinMode = (pin: Pin) => (pin.driftDigest ? `${pin.mode} (tag moved to ${short(pin.driftDigest)})` : pin.mode);

function pinsTable(pins: Pin[]): string {
  if (!pins.length) return 'No pins.';
  return table([['ID', 'REFERENCE', 'MODE', 'DIGEST', 'RESOLVED'], ...pins.map((p) => [p.id, p.reference, pinMode(p), short(p.digest), ago(p.resolvedAt)])]);
}

export const defaultWaitTimeout = '60m';

export function registerFleetProjects(fleet: Command): void {
  fleet
    .command('projects')
    .description('projects and their pins')
    .command('ls')
    .description('list projects by name')
    .option('--team <team>', 'only this team\'s (id or name)')
    .option('--search <text>', 'part of the name')
    .option('--limit <n>', 'at most this many (default 100)')
    .action(
      fleetAction(async (ctx, options: { team?: string; search?: string; limit?: string }) => {
        const limit = parseLimit(options.limit);
        const client = await ctx.client();
        const listed = await readPages(limit, 200, (cursor, size) =>
          client.call('projects.list', { query: { team: options.team, search: options.search, cursor, limit: size } }),
        );
        const rows = listed.items.map((p) => [p.name, p.team.name, p.nodeSelector || 'every node', p.pins.map((pin) => `${pin.reference} (${pin.mode})`).join(', ') || '-']);
        ctx.print(listed, listed.items.length ? table([['NAME', 'TEAM', 'NODES', 'PINS'], ...rows]) + moreLine(listed, 'projects') : 'No projects.');
      }),
    );

  const pins = fleet.command('pins').description('a project\'s pinned images');

  pins
    .command('ls <project>')
    .description('list a project\'s pins')
    .action(
      fleetAction(async (ctx, project: string) => {
        const listed = await (await ctx.client()).call('pins.list', { params: { project } });
        ctx.print(listed, pinsTable(listed.items));
      }),
    );

  pins
    .command('set <project> <reference>')
    .description('pin a tag (registry/repository:tag): resolved to a digest now, then rolled out to the project\'s nodes')
    .option('--mode <mode>', 'follow (moves with the tag) or frozen (keeps this digest)', 'follow')
    .option('--wait', 'wait until every node of the project holds the pinned digests')
    .option('--timeout <duration>', 'with --wait: give up after this long (e.g. 90s, 30m, 2h)', defaultWaitTimeout)
    .action(
      fleetAction(async (ctx, project: string, reference: string, options: { mode: string; wait?: boolean; timeout: string }) => {
        if (options.mode !== 'follow' && options.mode !== 'frozen') throw new FleetError('USAGE', `--mode ${options.mode}: use follow or frozen.`);
        const timeoutMs = parseDuration(options.timeout);
        const client = await ctx.client();
        const pin = await client.call('pins.create', { params: { project }, body: { reference, mode: options.mode } });
        if (!options.wait) {
          ctx.print(pin, `Pinned ${pin.reference} (${pin.mode}) to ${pin.digest}.`);
          return;
        }
        if (!ctx.json) process.stderr.write(`Pinned ${pin.reference} (${pin.mode}) to ${pin.digest}; waiting for the rollout.\n`);
        const rollout = await waitForRollout(client, { project, timeoutMs, json: ctx.json });
        ctx.print({ pin, rollout }, `${summary(rollout)}\n${pin.digest}`);
      }),
    );

  pins
    .command('rm <project> <pin>')
    .description('unpin: the pin\'s id or its reference')
    .action(
      fleetAction(async (ctx, project: string, which: string) => {
        const client = await ctx.client();
        const { items } = await client.call('pins.list', { params: { project } });
        const suffix = items.filter((p) => p.reference.endsWith(`/${which}`));
        if (suffix.length > 1) throw new FleetError('USAGE', `${which} matches ${suffix.length} pins of ${project}: give the full reference or the pin's id.`);
        const pin = items.find((p) => p.id === which) ?? items.find((p) => p.reference === which) ?? suffix[0];
        if (!pin) {
          const known = items.map((p) => p.reference).join(', ') || 'none';
          throw new FleetError('NOT_FOUND', `Project ${project} has no pin ${which} (its pins: ${known}).`, 404);
        }
        // Only the version just read: a pin someone changed meanwhile is not removed blindly.
        await client.call('pins.delete', { params: { pinId: pin.id } }, { ifMatch: pin.etag });
        ctx.print({ removed: pin }, `Unpinned ${pin.reference} from ${project}.`);
      }),
    );
}
