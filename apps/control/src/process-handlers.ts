// Last-resort handlers for the control process. Every handler in the gateway and workers catches
// its own errors; these exist so that a bug we missed is logged with context, and so that an
// exception (after which the process state is unknown) ends in a clean, non-zero exit that a
// supervisor restarts, instead of a silent death or a half-working process.
import type { Logger } from 'pino';

/** How long closing may take before the process exits anyway. */
const closeTimeoutMs = 5_000;

export function installProcessHandlers(log: Logger, closeQuickly: () => Promise<void>, exit: (code: number) => void = (code) => process.exit(code)): void {
  process.on('unhandledRejection', (reason) => {
    // A promise nobody waited for failed: that one operation is lost, the process is sound.
    log.error({ err: reason }, 'unhandled promise rejection; the control plane keeps running');
  });
  let exiting = false;
  process.on('uncaughtException', (error, origin) => {
    log.fatal({ err: error, origin }, 'uncaught exception; closing and exiting so a supervisor restarts the control plane');
    if (exiting) return;
    exiting = true;
    setTimeout(() => exit(1), closeTimeoutMs);
    closeQuickly()
      .catch((closeError: unknown) => log.error({ err: closeError }, 'closing after an uncaught exception failed'))
      .finally(() => exit(1));
  });
}
