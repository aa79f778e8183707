// `cider-agent install`: runs the agent at boot as a launchd LaunchDaemon on macOS or a systemd
// unit on Linux. The service manager's commands go through a small runner interface (launchctl
// cannot run off a Mac); the files are written for real.
import { execFile } from 'node:child_process';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export const serviceLabel = 'dev.ciderfleet.agent';
export const systemdUnitName = 'cider-agent.service';

export interface ServiceDefinition {
  /** The Node.js binary. */
  node: string;
  /** The agent script (dist/main.js). */
  script: string;
  /** The agent config written by `cider-agent enroll`. */
  config: string;
  logFile: string;
}

export interface CommandRunner {
  run(command: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
}

export const processRunner: CommandRunner = {
  run: (command, args) =>
    new Promise((resolve) => {
      execFile(command, args, { timeout: 60_000 }, (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr || (error && !stderr ? error.message : '')) });
      });
    }),
};

function xml(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

/** A LaunchDaemon: started at boot, restarted if it exits, logs to one file. */
export function launchdPlist(service: ServiceDefinition): string {
  const args = [service.node, service.script, 'run', '--config', service.config].map((a) => `    <string>${xml(a)}</string>`).join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>Label</key>
  <string>${serviceLabel}</string>
  <key>ProgramArguments</key>
  <array>
${args}
  </array>
  <key>RunAtLoad</key>
  <true/>
  <key>KeepAlive</key>
  <true/>
  <key>ThrottleInterval</key>
  <integer>10</integer>
  <key>ExitTimeOut</key>
  <integer>30</integer>
  <key>ProcessType</key>
  <string>Background</string>
  <key>StandardOutPath</key>
  <string>${xml(service.logFile)}</string>
  <key>StandardErrorPath</key>
  <string>${xml(service.logFile)}</string>
</dict>
</plist>
`;
}

function quoteSystemd(arg: string): string {
  return /[\s"\\]/.test(arg) ? `"${arg.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"` : arg;
}

/** A systemd unit: after the network, restarted on failure, SIGTERM for a graceful stop. */
export function systemdUnit(service: ServiceDefinition): string {
  const exec = [service.node, service.script, 'run', '--config', service.config].map(quoteSystemd).join(' ');
  return `[Unit]
Description=Cider Fleet agent (keeps this host's image cache as the control plane says)
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
ExecStart=${exec}
Restart=always
RestartSec=10
KillSignal=SIGTERM
TimeoutStopSec=30
StandardOutput=append:${service.logFile}
StandardError=append:${service.logFile}

[Install]
WantedBy=multi-user.target
`;
}

export interface InstallPlan {
  file: string;
  content: string;
  commands: [string, ...string[]][];
}

/** What installing means on a platform: one file and the commands that load it. */
export function installPlan(platform: NodeJS.Platform, service: ServiceDefinition, root = '/'): InstallPlan {
  if (platform === 'darwin') {
    const file = join(root, 'Library/LaunchDaemons', `${serviceLabel}.plist`);
    return {
      file,
      content: launchdPlist(service),
      commands: [
        ['launchctl', 'bootout', `system/${serviceLabel}`],
        ['launchctl', 'bootstrap', 'system', file],
        ['launchctl', 'enable', `system/${serviceLabel}`],
      ],
    };
  }
  if (platform === 'linux') {
    const file = join(root, 'etc/systemd/system', systemdUnitName);
    return {
      file,
      content: systemdUnit(service),
      commands: [
        ['systemctl', 'daemon-reload'],
        ['systemctl', 'enable', '--now', systemdUnitName],
      ],
    };
  }
  throw new Error(`cider-agent install supports macOS (launchd) and Linux (systemd), not ${platform}`);
}

/**
 * Writes the service file and loads it. `bootout` may fail when nothing was loaded before;
 * every other command must succeed.
 */
export async function install(plan: InstallPlan, runner: CommandRunner = processRunner): Promise<string[]> {
  await mkdir(dirname(plan.file), { recursive: true });
  await writeFile(plan.file, plan.content, { mode: 0o644 });
  await chmod(plan.file, 0o644);
  const done: string[] = [];
  for (const [command, ...args] of plan.commands) {
    const result = await runner.run(command, args);
    const line = [command, ...args].join(' ');
    if (result.code !== 0 && args[0] !== 'bootout') {
      throw new Error(`\`${line}\` failed (${result.code}): ${result.stderr.trim() || result.stdout.trim()}`);
    }
    done.push(line);
  }
  return done;
}
