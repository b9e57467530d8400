// Small process and network helpers for the embedded engine: is a pid alive, is a port free, the end of a log.
import { existsSync, readFileSync } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { createServer } from 'node:net';

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !isZombie(pid);
  } catch {
    // ESRCH: gone. EPERM: the pid exists but belongs to another user, so it was reused and our server is gone too.
    return false;
  }
}

/**
 * A detached server outlives the CLI that started it, so its parent becomes PID 1; in a container whose PID 1 does
 * not reap children, a dead server stays a zombie that signal 0 still reaches. Linux shows it as state Z.
 */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves true if `port` can be bound on `host` right now (and releases it at once). */
export function portIsFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/** The last `lines` lines of a log file (reads at most the last 16 KiB). */
export async function logTail(path: string, lines = 12): Promise<string> {
  if (!existsSync(path)) return '';
  const { size } = await stat(path);
  const length = Math.min(size, 16 * 1024);
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    return buffer.toString('utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } finally {
    await handle.close();
  }
}

/** GET a URL with a timeout; resolves the status, or undefined when nothing answered. */
export async function probe(url: string, timeoutMs = 1000): Promise<number | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return undefined;
  }
}
