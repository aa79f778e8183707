// `cider fleet rollout status <project> [--wait]`.
import type { Command } from 'commander';
import { parseDuration, size, table } from '../../fleet/format.ts';
import { failureLines, summary, waitForRollout } from '../../fleet/wait.ts';
import { defaultWaitTimeout } from './projects.ts';
import { fleetAction } from './run.ts';

export function registerFleetRollout(fleet: Command): void {
  fleet
    .command('rollout')
    .description('where a project\'s pins stand across its nodes')
    .command('status <project>')
    .description('the rollout of a project\'s pins; with --wait, until every node holds them')
    .option('--wait', 'wait until converged (exit 0), failing (exit 4) or --timeout (exit 5)')
    .option('--timeout <duration>', 'with --wait: give up after this long (e.g. 90s, 30m, 2h)', defaultWaitTimeout)
    .action(
      fleetAction(async (ctx, project: string, options: { wait?: boolean; timeout: string }) => {
        const client = await ctx.client();
        if (options.wait) {
          const rollout = await waitForRollout(client, { project, timeoutMs: parseDuration(options.timeout), json: ctx.json });
          ctx.print(rollout, summary(rollout));
          return;
        }
        const rollout = await client.call('projects.rollout', { params: { project } });
        const lines = [summary(rollout)];
        if (rollout.pins.length) lines.push('', table([['REFERENCE', 'MODE', 'DIGEST'], ...rollout.pins.map((p) => [p.reference, p.mode, p.digest])]));
        if (rollout.failures.length) lines.push('', 'Failed:', ...failureLines(rollout));
        if (rollout.bytesTotal) lines.push('', `Fetched ${size(rollout.bytesDone)} of ${size(rollout.bytesTotal)}.`);
        ctx.print(rollout, lines.join('\n'));
      }),
    );
}
