// The control plane as a real process (its own main, its own crash handlers), for tests that must
// see whether hostile input kills it: in-process, a crash would take the test runner with it.
import { fileURLToPath } from 'node:url';
import { freePort, startProcess, waitFor, type ManagedProcess } from '@cider/services';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));

export interface ControlProcess {
  port: number;
  url: string;
  process: ManagedProcess;
  /** True while the process runs and /healthz answers exactly {"ok":true}. */
  alive(): Promise<boolean>;
  stop(): Promise<void>;
}

/** GETs a URL and returns status and body; https tests pass one that trusts their CA. */
export type Getter = (url: string) => Promise<{ status: number; body: string }>;

const plainGet: Getter = async (url) => {
  const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  return { status: response.status, body: await response.text() };
};

export async function startControlProcess(env: Record<string, string>, options: { get?: Getter; scheme?: 'http' | 'https' } = {}): Promise<ControlProcess> {
  const port = await freePort();
  const proc = startProcess(process.execPath, ['--import', 'tsx', main, 'run'], {
    cwd: root,
    env: {
      ...process.env,
      CIDER_CONTROL_HOST: '127.0.0.1',
      CIDER_CONTROL_PORT: String(port),
      CIDER_HEARTBEAT_INTERVAL_S: '5',
      LOG_LEVEL: process.env.CIDER_TEST_LOG ?? 'warn',
      ...env,
    },
  });
  const url = `${options.scheme ?? 'http'}://127.0.0.1:${port}`;
  const get = options.get ?? plainGet;
  const alive = async () => {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) return false;
    const response = await get(`${url}/healthz`).catch(() => undefined);
    return response?.status === 200 && response.body === '{"ok":true}';
  };
  try {
    await waitFor(
      'the control process',
      async () => {
        if (proc.child.exitCode !== null) throw new Error(`the control process exited (${proc.child.exitCode}):\n${proc.output()}`);
        return alive();
      },
      60_000,
      200,
    );
  } catch (error) {
    await proc.stop('SIGKILL');
    throw error;
  }
  return { port, url, process: proc, alive, stop: () => proc.stop() };
}
