// `cider fleet`: the Cider Fleet server's REST API v1 from the command line, for pipelines and
// provisioning scripts. Server: --server or CIDER_SERVER; token: CIDER_TOKEN; else `cider fleet login`.
import type { Command } from 'commander';
import { registerFleetJobs } from './jobs.ts';
import { registerFleetLogin } from './login.ts';
import { registerFleetNodes } from './nodes.ts';
import { registerFleetProjects } from './projects.ts';
import { registerFleetRollout } from './rollout.ts';

export function registerFleet(program: Command): void {
  const fleet = program
    .command('fleet')
    .description('pin images, watch rollouts and manage nodes and sync jobs on a Cider Fleet server')
    .option('--server <url>', 'the Cider Fleet server (default: CIDER_SERVER, else the one cider fleet login stored)');
  registerFleetLogin(fleet);
  registerFleetProjects(fleet);
  registerFleetRollout(fleet);
  registerFleetNodes(fleet);
  registerFleetJobs(fleet);
}
