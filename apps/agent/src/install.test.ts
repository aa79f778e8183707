import { execFile, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { install, installPlan, type CommandRunner } from './install.ts';

const run = promisify(execFile);
/** systemd's own unit parser; in Debian's systemd package. Absent, the unit test says so and skips. */
const systemdAnalyze = spawnSync('systemd-analyze', ['--version'], { stdio: 'ignore' }).error === undefined;
const service = { node: '/usr/local/bin/node', script: '/opt/cider/agent/main.js', config: '/Library/Application Support/Cider/agent.json', logFile: '/var/log/cider-agent.log' };

/** Records commands; launchctl and systemctl cannot run here. `bootout` fails as it does when nothing is loaded. */
function recordingRunner(): CommandRunner & { commands: string[] } {
  const commands: string[] = [];
  return {
    commands,
    async run(command, args) {
      commands.push([command, ...args].join(' '));
      return args[0] === 'bootout' ? { code: 3, stdout: '', stderr: 'Boot-out failed: 3: No such process' } : { code: 0, stdout: '', stderr: '' };
    },
  };
}

describe('cider-agent install', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'cider-install-'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('writes a LaunchDaemon plist that parses and runs the agent at boot, then bootstraps it', async () => {
    const plan = installPlan('darwin', service, root);
    const runner = recordingRunner();
    await install(plan, runner);
    expect(plan.file).toBe(join(root, 'Library/LaunchDaemons/dev.ciderfleet.agent.plist'));
    expect((await stat(plan.file)).mode & 0o777).toBe(0o644);
    // A real plist parser (Python's plistlib) reads it back.
    const { stdout } = await run('python3', ['-c', 'import json,plistlib,sys; print(json.dumps(plistlib.load(open(sys.argv[1],"rb"))))', plan.file]);
    expect(JSON.parse(stdout)).toMatchObject({
      Label: 'dev.ciderfleet.agent',
      ProgramArguments: [service.node, service.script, 'run', '--config', service.config],
      RunAtLoad: true,
      KeepAlive: true,
      StandardErrorPath: service.logFile,
    });
    expect(runner.commands).toEqual([
      'launchctl bootout system/dev.ciderfleet.agent',
      `launchctl bootstrap system ${plan.file}`,
      'launchctl enable system/dev.ciderfleet.agent',
    ]);
  });

  it('writes a systemd unit that systemd-analyze accepts, then enables it', async (context) => {
    if (!systemdAnalyze) context.skip('systemd-analyze is not installed (Debian package systemd), so nothing can check the unit file');
    const plan = installPlan('linux', { ...service, node: process.execPath, script: join(root, 'main.js') }, root);
    await run('touch', [join(root, 'main.js')]);
    const runner = recordingRunner();
    await install(plan, runner);
    const unit = await readFile(plan.file, 'utf8');
    expect(unit).toContain(`ExecStart=${process.execPath} ${join(root, 'main.js')} run --config "${service.config}"`);
    expect(unit).toMatch(/Restart=always/);
    // systemd's own parser: it warns on stderr (and still exits 0) about unknown keys and bad
    // values, each line naming the file; a missing section or unusable ExecStart exits non-zero.
    const verified = await run('systemd-analyze', ['verify', plan.file]).then(
      ({ stderr }) => ({ code: 0, stderr }),
      (error: { code?: unknown; stderr?: string }) => ({ code: error.code, stderr: error.stderr ?? '' }),
    );
    const complaints = verified.stderr.split('\n').filter((line) => line.includes(plan.file) || /Unknown key|Invalid|bad-setting|Failed to parse|Unknown section/i.test(line));
    expect({ code: verified.code, complaints }).toEqual({ code: 0, complaints: [] });
    expect(runner.commands).toEqual(['systemctl daemon-reload', 'systemctl enable --now cider-agent.service']);
  });

  it('stops at the first failing command and says which', async () => {
    const plan = installPlan('linux', service, root);
    const failing: CommandRunner = { run: async (command, args) => (args[0] === 'enable' ? { code: 1, stdout: '', stderr: 'Access denied' } : { code: 0, stdout: '', stderr: '' }) };
    await expect(install(plan, failing)).rejects.toThrow('`systemctl enable --now cider-agent.service` failed (1): Access denied');
  });
});
