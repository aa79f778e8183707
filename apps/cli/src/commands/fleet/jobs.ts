// `cider fleet jobs ls|cancel|retry`.
import type { Command } from 'commander';
import { FleetError } from '../../fleet/errors.ts';
import { ago, moreLine, parseLimit, percent, readPages, short, table } from '../../fleet/format.ts';
import { fleetAction } from './run.ts';

const states = ['queued', 'dispatched', 'pulling', 'cancelling', 'done', 'failed', 'cancelled', 'unfinished'] as const;

export function registerFleetJobs(fleet: Command): void {
  const jobs = fleet.command('jobs').description('sync jobs: a node fetching an image');

  jobs
    .command('ls')
    .description('list sync jobs, newest first')
    .option('--state <state>', `${states.join(', ')}`)
    .option('--node <node>', 'only this node\'s (id or name)')
    .option('--digest <digest>', 'a digest or its beginning')
    .option('--limit <n>', 'at most this many (default 100)')
    .action(
      fleetAction(async (ctx, options: { state?: string; node?: string; digest?: string; limit?: string }) => {
        const limit = parseLimit(options.limit);
        const state = states.find((s) => s === options.state);
        if (options.state && !state) throw new FleetError('USAGE', `--state ${options.state}: use ${states.join(', ')}.`);
        const client = await ctx.client();
        const listed = await readPages(limit, 200, (cursor, size) => client.call('jobs.list', { query: { state, node: options.node, digest: options.digest, cursor, limit: size } }));
        const rows = listed.items.map((j) => [j.id, j.node.name, j.reference, short(j.digest), j.state, percent(j.bytesDone, j.bytesTotal), ago(j.createdAt), j.error ?? '']);
        ctx.print(listed, listed.items.length ? table([['ID', 'NODE', 'REFERENCE', 'DIGEST', 'STATE', 'PROGRESS', 'CREATED', 'ERROR'], ...rows]) + moreLine(listed, 'jobs') : 'No jobs match.');
      }),
    );

  jobs
    .command('cancel <id>')
    .description('cancel an unfinished job (admins)')
    .action(
      fleetAction(async (ctx, jobId: string) => {
        const result = await (await ctx.client()).call('jobs.cancel', { params: { jobId } });
        ctx.print(result, result.message);
      }),
    );

  jobs
    .command('retry <id>')
    .description('retry a failed job: a fresh job is queued if its node still needs the image (admins)')
    .action(
      fleetAction(async (ctx, jobId: string) => {
        const result = await (await ctx.client()).call('jobs.retry', { params: { jobId } });
        ctx.print(result, result.jobId ? `${result.message} (job ${result.jobId})` : result.message);
      }),
    );
}
