import { watchRegistries, type JobPayload, type ServiceDeps } from '@cider/api/services';
import type { Logger } from 'pino';
import { noRecorder, type ControlRecorder } from '../metrics/control-metrics.ts';

/** Re-resolves pinned tags (moved `follow` tags roll out, `frozen` ones raise drift alerts) and flags tags that moved on registries with immutable tags. */
export function createRegistryWatchProcessor(deps: ServiceDeps, log: Logger, recorder: ControlRecorder = noRecorder) {
  return async function processRegistryWatch(payload: JobPayload<'registry-watch'>) {
    const summary = await watchRegistries(deps);
    for (const move of summary.moved) {
      log.info({ reference: move.reference, from: move.from, to: move.to, mode: move.mode }, move.mode === 'follow' ? 'tag moved upstream; rolling out' : 'tag of a frozen pin moved upstream (alert)');
    }
    for (const moved of summary.immutableViolations) log.warn(moved, 'a tag moved on a registry with immutable tags (flagged in the audit log)');
    for (const error of summary.errors) log.warn(error, 'could not re-resolve a tag');
    recorder.registryWatchErrors(summary.errors.length);
    return { ...summary, reason: payload.reason };
  };
}
