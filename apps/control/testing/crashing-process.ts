// A process with the control plane's last-resort handlers that first leaves a promise rejection
// unhandled, then throws from a timer: what process-handlers.test.ts watches from outside.
import pino from 'pino';
import { installProcessHandlers } from '../src/process-handlers.ts';

const log = pino({ name: 'crashing-process' });
installProcessHandlers(log, async () => {
  log.info('closed what could be closed');
});
void Promise.reject(new Error('a rejection nobody waited for'));
setTimeout(() => {
  log.info('still running after the rejection');
  setTimeout(() => {
    throw new Error('a bug that throws');
  }, 10);
}, 100);
// Keeps the process alive, as the gateway's server would.
setInterval(() => {}, 1_000);
