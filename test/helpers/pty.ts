// Drives the built CLI through a pseudo-terminal (python3's pty module, via pty-drive.py): for interactive prompts,
// which draw only when stdin and stderr are terminals.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CLI_PATH } from './cli.js';

const DRIVER = fileURLToPath(new URL('./pty-drive.py', import.meta.url));

export const KEYS = { down: '\x1b[B', up: '\x1b[A', enter: '\r', ctrlC: '\x03' };

/** A step: wait until the output since the last keys matches `waitFor` (a regular expression), then type `keys`. */
export interface PtyStep {
  waitFor: string;
  keys: string;
}

export function runInPty(args: string[], steps: PtyStep[], env: NodeJS.ProcessEnv, cwd: string): Promise<{ code: number | null; output: string }> {
  const child = spawn('python3', [DRIVER, JSON.stringify(steps.map((s) => [s.waitFor, s.keys])), process.execPath, CLI_PATH, ...args], {
    cwd,
    env: { ...process.env, NO_COLOR: '1', TERM: 'xterm', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (output += text));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}
