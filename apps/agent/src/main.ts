#!/usr/bin/env node
// cider-agent: enroll this Mac with the control plane, then run the daemon.
import { realpathSync } from 'node:fs';
import { hostname } from 'node:os';
import { mkdir } from 'node:fs/promises';
import { assertSafeCacheDirectory, enableMemoryRelief } from '@cider/oci';
import { parseListen } from '@cider/protocol/metrics-endpoint';
import { Command } from 'commander';
import pino from 'pino';
import { Agent, type MetricsSettings } from './agent.ts';
import { defaultCacheDir, defaultConfigPath, readAgentConfig, writeAgentConfig } from './config.ts';
import { enroll } from './enroll.ts';
import { install, installPlan } from './install.ts';
import { handleProcessFaults } from './process-faults.ts';
import { readEnrollmentToken } from './token-input.ts';

function fail(error: unknown): never {
  console.error(`cider-agent: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}

/** --metrics-listen / CIDER_AGENT_METRICS_LISTEN and CIDER_AGENT_METRICS_TOKEN, checked before the agent starts. */
function metricsSettings(listen: string | undefined, token: string | undefined): MetricsSettings | undefined {
  if (!listen) return undefined;
  let address;
  try {
    address = parseListen(listen);
  } catch (error) {
    throw new Error(`--metrics-listen (CIDER_AGENT_METRICS_LISTEN): ${(error as Error).message}`);
  }
  if (token !== undefined && (token.length < 16 || token.length > 512)) throw new Error('CIDER_AGENT_METRICS_TOKEN must be 16 to 512 characters (e.g. `openssl rand -hex 24`)');
  return { ...address, ...(token ? { token } : {}) };
}

function parseLabels(values: string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const value of values) {
    const eq = value.indexOf('=');
    if (eq < 1) fail(`--label ${value}: use key=value`);
    labels[value.slice(0, eq)] = value.slice(eq + 1);
  }
  return labels;
}

function portNumber(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--peer-port ${value}: use a port from 1 to 65535 (0 picks a free one)`);
  return port;
}

function positiveInteger(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 1000) fail(`${flag} ${value}: use a whole number from 1 to 1000`);
  return n;
}

function nonNegative(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 100_000) fail(`${flag} ${value}: use a number of MB/s from 0 (unlimited) to 100000`);
  return n;
}

const program = new Command('cider-agent').description('Cider Fleet agent: keeps this Mac\'s image cache as the control plane says');

program
  .command('enroll')
  .description('enroll this host with the control plane and store its identity')
  .requiredOption('--server <url>', 'control plane address, e.g. https://cider.example.com:4000')
  .option('--token-file <path>', 'read the enrollment token (from the dashboard: Settings -> Enrollment tokens) from this file')
  .option('--token-stdin', 'read the enrollment token from standard input (also: --token -)')
  .option('--token <token>', 'the enrollment token itself; it shows in `ps` and shell history, so prefer --token-file or --token-stdin')
  .option('--insecure', 'allow plain http:// (and ws://) to a control plane that is not on this machine: the token, node secret and registry grants then cross the network in clear')
  .option('--name <name>', 'node name', hostname().split('.')[0])
  .option('--label <key=value...>', 'labels that choose which projects this node serves', [])
  .option('--cache <dir>', 'cache directory', defaultCacheDir())
  .option('--quota <GiB>', 'evict unpinned images above this size', (v) => Math.round(Number(v) * 1024 ** 3))
  .option('--config <path>', 'where to store the identity', defaultConfigPath())
  .action(async (options: { server: string; token?: string; tokenStdin?: boolean; tokenFile?: string; insecure?: boolean; name: string; label: string[]; cache: string; quota?: number; config: string }) => {
    try {
      const token = await readEnrollmentToken(options);
      await mkdir(options.cache, { recursive: true, mode: 0o755 });
      // Refused now rather than at the first run: the message says the chown/chmod that fixes it.
      await assertSafeCacheDirectory(options.cache);
      const config = await enroll({
        server: options.server,
        token,
        name: options.name,
        labels: parseLabels(options.label),
        cacheDir: options.cache,
        quotaBytes: options.quota,
        insecure: options.insecure,
      });
      await writeAgentConfig(options.config, config);
      console.log(`Enrolled as node "${config.nodeName}" (${config.nodeId}); identity stored in ${options.config}`);
    } catch (error) {
      fail(error);
    }
  });

program
  .command('run', { isDefault: true })
  .description('run the agent daemon')
  .option('--config <path>', 'agent config file', defaultConfigPath())
  .option('--log-level <level>', 'fatal, error, warn, info, debug', process.env.LOG_LEVEL ?? 'info')
  .option('--no-peer', 'do not serve verified blobs to other Macs of the fleet')
  .option('--peer-host <address>', 'address the peer server listens on', '::')
  .option('--peer-port <port>', 'port the peer server listens on (allow it in the application firewall)', (v) => portNumber(v), 7941)
  .option('--peer-max-uploads <n>', 'uploads to peers at once', (v) => positiveInteger(v, '--peer-max-uploads'), 4)
  .option('--peer-max-rate <MB/s>', 'bandwidth all uploads to peers share, in MB/s (0: unlimited)', (v) => nonNegative(v, '--peer-max-rate'), 100)
  .option('--metrics-listen <host:port>', 'serve Prometheus metrics at http://<host:port>/metrics (off by default; env CIDER_AGENT_METRICS_LISTEN)', process.env.CIDER_AGENT_METRICS_LISTEN)
  .action(async (options: { config: string; logLevel: string; peer: boolean; peerHost: string; peerPort: number; peerMaxUploads: number; peerMaxRate: number; metricsListen?: string }) => {
    const config = await readAgentConfig(options.config).catch(fail);
    const log = pino({ name: 'cider-agent', level: options.logLevel });
    handleProcessFaults(log);
    enableMemoryRelief();
    const peer = options.peer
      ? { host: options.peerHost, port: options.peerPort, maxConcurrentUploads: options.peerMaxUploads, maxUploadBytesPerSecond: Math.round(options.peerMaxRate * 1_000_000), ...(process.env.CIDER_PEER_TAMPER === '1' ? { tamper: true } : {}) }
      : undefined;
    let metrics: MetricsSettings | undefined;
    try {
      metrics = metricsSettings(options.metricsListen, process.env.CIDER_AGENT_METRICS_TOKEN);
    } catch (error) {
      fail(error);
    }
    const agent = new Agent({ config, configPath: options.config, log, ...(peer ? { peer } : {}), ...(metrics ? { metrics } : {}) });
    await agent.start().catch(fail);
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'stopping; interrupted pulls resume at the next start');
      agent.stop().then(() => process.exit(0), fail);
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });

program
  .command('install')
  .description('run the agent at boot: a launchd LaunchDaemon on macOS, a systemd unit on Linux (needs root)')
  .option('--config <path>', 'agent config file (from enroll)', defaultConfigPath())
  .option('--node <path>', 'Node.js binary the service runs', process.execPath)
  .option('--log <path>', 'log file', process.platform === 'darwin' ? '/var/log/cider-agent.log' : '/var/log/cider-agent.log')
  .option('--dry-run', 'print the service file and the commands instead of installing')
  .action(async (options: { config: string; node: string; log: string; dryRun?: boolean }) => {
    try {
      await readAgentConfig(options.config); // enrolled first, or a clear message
      const script = realpathSync(process.argv[1]!);
      const plan = installPlan(process.platform, { node: options.node, script, config: options.config, logFile: options.log });
      if (options.dryRun) {
        console.log(`# ${plan.file}\n${plan.content}`);
        for (const command of plan.commands) console.log(`$ ${command.join(' ')}`);
        return;
      }
      if (typeof process.getuid === 'function' && process.getuid() !== 0) fail('Installing a boot service needs root: run it with sudo.');
      const ran = await install(plan);
      console.log(`Installed ${plan.file}; ran: ${ran.join('; ')}`);
    } catch (error) {
      fail(error);
    }
  });

await program.parseAsync();
