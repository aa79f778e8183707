import { reconcile, type JobPayload, type ServiceDeps } from '@cider/api/services';
import type { Logger } from 'pino';
import type { CommandBus } from '../gateway/commands.ts';

/** Reconciles the nodes a job names, then tells their agents which digests are pinned (never to evict), from the one desired state it computed. */
export function createReconcileProcessor(deps: ServiceDeps, commands: CommandBus, log: Logger) {
  return async function processReconcile(payload: JobPayload<'reconcile'>) {
    const { scope, id, reason } = payload;
    const started = Date.now();
    const target = scope === 'all' || !id ? {} : scope === 'node' ? { nodeIds: [id] } : { projectId: id };
    const { summary, desired } = await reconcile(deps, target);
    const reconciledMs = Date.now() - started;
    await commands.sendMany(desired.nodes.map((node) => ({ nodeId: node.id, message: { type: 'pinned', digests: [...desired.pinsOf(node.id).keys()] } })));
    if (summary.queued || summary.arrived || summary.cancelled) {
      log.info({ scope, id, reason, ...summary, reconciledMs, totalMs: Date.now() - started }, 'reconciled');
    }
    return summary;
  };
}
