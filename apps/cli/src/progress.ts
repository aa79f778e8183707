// Progress on long work: bars with bytes, rate and ETA on a terminal; plain lines when stderr is
// a pipe or a log; nothing with --json (scripts read stdout). Progress goes to stderr so stdout
// stays the command's result.
import cliProgress from 'cli-progress';
import { formatBytes } from '@cider/oci';

export interface Progress {
  update(done: number, total: number, label?: string): void;
  stop(): void;
}

export function createProgress(options: { json: boolean; label: string; stream?: NodeJS.WriteStream }): Progress {
  const stream = options.stream ?? process.stderr;
  if (options.json) return { update() {}, stop() {} };
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        stream,
        format: ' {label} |{bar}| {percentage}% | {doneText} / {totalText} | {rate}/s | ETA {eta_formatted}',
        barCompleteChar: '\u2588',
        barIncompleteChar: '\u2591',
        hideCursor: true,
        etaBuffer: 50,
        fps: 8,
      },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    let stopped = false;
    const startedAt = Date.now();
    return {
      update(done, total, label) {
        if (stopped) return;
        const seconds = Math.max(0.001, (Date.now() - startedAt) / 1000);
        const payload = { label: label ?? options.label, doneText: formatBytes(done), totalText: formatBytes(total), rate: formatBytes(done / seconds) };
        if (!started) {
          bar.start(Math.max(total, 1), done, payload);
          started = true;
        } else {
          bar.setTotal(Math.max(total, 1));
          bar.update(done, payload);
        }
      },
      stop() {
        if (started && !stopped) bar.stop();
        stopped = true;
      },
    };
  }
  // Not a terminal: a line at most every 5 seconds and at the end.
  let last = 0;
  let lastDone = -1;
  return {
    update(done, total, label) {
      const now = Date.now();
      if (now - last < 5_000 && done < total) return;
      if (done === lastDone) return;
      last = now;
      lastDone = done;
      const percent = total > 0 ? Math.floor((done / total) * 100) : 0;
      stream.write(`${label ?? options.label}: ${formatBytes(done)} / ${formatBytes(total)} (${percent}%)\n`);
    },
    stop() {},
  };
}
