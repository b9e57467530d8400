import { createRequire } from 'node:module';
import type CliProgress from 'cli-progress';
import type { ProgressSink, ProgressTask } from '../../core/progress.js';
import { formatBytes, formatRate } from './format.js';
import { terminalLine } from '../../lib/terminal-text.js';

// Bars with bytes, rate and ETA on a TTY; a plain line every few seconds (and at the end) otherwise, so CI logs
// show that long work is moving without drowning in redraws. Everything goes to stderr: stdout is for results.

const PLAIN_INTERVAL_MS = 2000;

export function ttyProgress(stream: NodeJS.WriteStream): ProgressSink {
  // Required only when a bar is drawn, so commands that never show one do not load it at start-up.
  const cliProgress = createRequire(import.meta.url)('cli-progress') as typeof CliProgress;
  let barsShown = 0;
  return {
    begin(label, totalBytes) {
      const bar = new cliProgress.SingleBar(
        {
          stream,
          format: `${terminalLine(label)} [{bar}] {percentage}% | {doneBytes}/{totalBytes} | {rate} | ETA {eta_formatted}`,
          hideCursor: true,
          clearOnComplete: false,
          etaBuffer: 50,
          fps: 10,
        },
        cliProgress.Presets.shades_classic,
      );
      const started = Date.now();
      let done = 0;
      const payload = () => ({
        doneBytes: formatBytes(done),
        totalBytes: formatBytes(totalBytes),
        rate: formatRate(done, Math.max(0.001, (Date.now() - started) / 1000)),
      });
      bar.start(Math.max(totalBytes, 1), 0, payload());
      barsShown++;
      return {
        advance(bytes) {
          done += bytes;
          bar.update(Math.min(done, totalBytes), payload());
        },
        end() {
          bar.update(Math.max(totalBytes, 1), payload());
          bar.stop();
          barsShown--;
        },
      };
    },
    note(message) {
      // A bar owns the cursor's line and turns line wrapping off: a note written after it would be glued to the bar
      // and cut at the terminal's edge. It takes the bar's line instead, wrapping, and the bar redraws below it; the
      // cursor is saved again there (ESC 7), since a bar that stops goes back to where it was saved.
      const line = `${terminalLine(message)}\n`;
      stream.write(barsShown > 0 ? `\r\x1b[2K\x1b[?7h${line}\x1b[?7l\x1b7` : line);
    },
  };
}

export function plainProgress(stream: NodeJS.WritableStream): ProgressSink {
  return {
    begin(label, totalBytes): ProgressTask {
      const started = Date.now();
      let done = 0;
      let lastPrint = Date.now();
      const print = () => {
        const seconds = (Date.now() - started) / 1000;
        const percent = totalBytes > 0 ? Math.floor((done / totalBytes) * 100) : 100;
        stream.write(`${terminalLine(label)}: ${percent}% ${formatBytes(done)}/${formatBytes(totalBytes)} ${formatRate(done, Math.max(seconds, 0.001))}\n`);
        lastPrint = Date.now();
      };
      stream.write(`${terminalLine(label)}: ${formatBytes(totalBytes)}\n`);
      return {
        advance(bytes) {
          done += bytes;
          if (Date.now() - lastPrint >= PLAIN_INTERVAL_MS) print();
        },
        end: print,
      };
    },
    note(message) {
      stream.write(`${terminalLine(message)}\n`);
    },
  };
}
