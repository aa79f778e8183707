import { reconcile, type JobPayload, type ServiceDeps } from '@cider/api/services';
import type { Logger } from 'pino';
import type { CommandBus } from '../gateway/commands.ts';
import { noRecorder, type ControlRecorder } from '../metrics/control-metrics.ts';

/** Reconciles the nodes a job names, then tells their agents which digests are pinned (never to evict), from the one desired state it computed. */
export function createReconcileProcessor(deps: ServiceDeps, commands: CommandBus, log: Logger, recorder: ControlRecorder = noRecorder) {
  return async function processReconcile(payload: JobPayload<'reconcile'>) {
    const { scope, id, reason } = payload;
    const started = Date.now();
    const target = scope === 'all' || !id ? {} : scope === 'node' ? { nodeIds: [id] } : { projectId: id };
    const { summary, desired } = await reconcile(deps, target);
    const reconciledMs = Date.now() - started;
    recorder.reconciled(scope === 'all' || !id ? 'all' : scope, reconciledMs / 1000);
    await commands.sendMany(desired.nodes.map((node) => ({ nodeId: node.id, message: { type: 'pinned', digests: [...desired.pinsOf(node.id).keys()] } })));
    if (summary.queued || summary.arrived || summary.cancelled) {
      log.info({ scope, id, reason, ...summary, reconciledMs, totalMs: Date.now() - started }, 'reconciled');
    }
    return summary;
  };
}
