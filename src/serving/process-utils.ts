// Small process and network helpers for the embedded engine: is a pid alive, is a port free, the end of a log.
import { openRegular } from '../lib/safe-fs.js';
import { createServer } from 'node:net';
import { isZombie } from './process-identity.js';

/** Whether some process (any, not necessarily ours: see process-identity.ts) holds `pid`. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !isZombie(pid);
  } catch {
    // ESRCH: gone. EPERM: the pid exists but belongs to another user, so it was reused and our server is gone too.
    return false;
  }
}

/** Resolves true if `port` can be bound on `host` right now (and releases it at once). */
export function portIsFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/** The last `lines` lines of a log file (reads at most the last 16 KiB; a link or non-file reads as empty). */
export async function logTail(path: string, lines = 12): Promise<string> {
  const handle = await openRegular(path).catch(() => undefined);
  if (!handle) return '';
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, 16 * 1024);
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, size - length);
    return buffer.subarray(0, bytesRead).toString('utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } finally {
    await handle.close();
  }
}

/**
 * GET a URL with a deadline; resolves the status, or undefined when nothing answered in time. The body is never
 * read: a recorded port may by now belong to any server, which could answer with an endless one.
 */
export async function probe(url: string, timeoutMs = 1000): Promise<number | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.body?.cancel();
    return res.status;
  } catch {
    return undefined;
  }
}
