import { spawn } from 'node:child_process';
import type { FileHandle } from 'node:fs/promises';

// How much of an open file the page cache holds, asked of util-linux's `fincore` (mincore(2) on a mapping of the
// file; Node has neither mmap nor mincore). The file is handed to it as its descriptor 3 and opened there as
// /dev/fd/3, so it is the file already open here, whatever its name has become since. Where fincore is missing, fails
// or does not answer in time, the answer is undefined and the caller keeps its usual path.

/** fincore maps and scans the file: milliseconds even for tens of gigabytes; past this it is not answering. */
const TIMEOUT_MS = 3000;
/** The one number asked for, with room for a newline: anything longer is not fincore's answer. */
const MAX_OUTPUT = 64;

/** Set when fincore is missing or once did not answer in time: it is not asked again (each wait would cost 3 s). */
let fincoreUnusable = false;

/** The share (0 to 1) of the `size` bytes of the file open as `handle` that the page cache holds, when it can tell. */
export function cachedShare(handle: FileHandle, size: number): Promise<number | undefined> {
  if (fincoreUnusable || process.platform !== 'linux' || size <= 0) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    // A process group of its own, so that whatever it started goes with it.
    const child = spawn('fincore', ['--bytes', '--noheadings', '--raw', '--output', 'RES', '/dev/fd/3'], {
      stdio: ['ignore', 'pipe', 'ignore', handle.fd],
      detached: true,
      windowsHide: true,
    });
    let output = '';
    // The answer is settled once: by the output at close, or undefined on an error, too much output or no close in
    // time (a child of fincore could hold the pipe open after fincore itself has exited). Settling, or aim ending
    // (Ctrl-C re-raises the signal after the 'exit' listeners), ends the group: nothing aim started outlives it.
    let settled = false;
    const endGroup = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // ESRCH: fincore and anything it started have all exited
      }
    };
    const settle = (share: number | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      process.off('exit', endGroup);
      child.stdout!.destroy();
      endGroup();
      resolve(share);
    };
    process.once('exit', endGroup);
    const timer = setTimeout(() => {
      fincoreUnusable = true;
      settle(undefined);
    }, TIMEOUT_MS);
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (text: string) => {
      output += text;
      if (output.length > MAX_OUTPUT) settle(undefined);
    });
    child.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') fincoreUnusable = true;
      settle(undefined);
    });
    child.on('close', (code) => settle(code === 0 ? shareOf(output, size) : undefined));
  });
}

/** fincore's resident bytes as a share of `size`: one decimal count and nothing else, at most the file's size. */
function shareOf(output: string, size: number): number | undefined {
  if (!/^\d{1,20}\n?$/.test(output)) return undefined;
  return Math.min(Number(output.trim()), size) / size;
}
