import { desiredImages, nodesServingProject, reconcileNodes, type JobPayload, type ServiceDeps } from '@cider/api/services';
import type { Job } from 'bullmq';
import type { Logger } from 'pino';
import type { CommandBus } from '../gateway/commands.ts';

/** Reconciles the nodes a job names, then tells their agents which digests are pinned (never to evict). */
export function createReconcileProcessor(deps: ServiceDeps, commands: CommandBus, log: Logger) {
  return async function processReconcile(job: Job<JobPayload<'reconcile'>>) {
    const { scope, id, reason } = job.data;
    const started = Date.now();
    const nodeIds = scope === 'all' ? undefined : scope === 'node' ? [id!] : await nodesServingProject(deps, id!);
    const summary = await reconcileNodes(deps, nodeIds);
    const reconciledMs = Date.now() - started;
    const desired = await desiredImages(deps, nodeIds);
    await commands.sendMany([...desired].map(([nodeId, images]) => ({ nodeId, message: { type: 'pinned', digests: [...images.keys()] } })));
    if (summary.queued || summary.arrived || summary.cancelled) {
      log.info({ scope, id, reason, ...summary, reconciledMs, totalMs: Date.now() - started }, 'reconciled');
    }
    return summary;
  };
}
