// Process-level fault handlers for the agent daemon.
import type { Logger } from 'pino';

/**
 * Last lines of defence: a rejection nobody handled is logged with what it was and the agent
 * carries on (each handler already catches its own; this is for the one that was missed); an
 * uncaught exception leaves the process in an unknown state, so it is logged and the agent exits
 * non-zero for launchd/systemd to start it afresh (interrupted pulls resume).
 */
export function handleProcessFaults(log: Logger, exit: (code: number) => void = (code) => process.exit(code)): void {
  process.on('unhandledRejection', (reason) => {
    log.error({ err: reason, fault: 'unhandledRejection' }, 'a promise was rejected and nothing handled it; carrying on');
  });
  process.on('uncaughtException', (error, origin) => {
    log.fatal({ err: error, fault: origin }, 'uncaught exception; exiting so the service manager restarts the agent');
    log.flush?.();
    exit(70);
  });
}
