import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import * as v from 'valibot';
import { isZombie, statFields } from '../../serving/process-identity.js';
import { text, timestamp } from '../format/schemas/parse.js';

// Who holds a destination's lock (dest-lock.ts), and whether that process still runs. A pid alone says little: it
// means something only on its own host, in its own pid namespace (a container sharing the folder has its own), and
// since the last boot; and once its process is gone the pid goes to another. So the lock records all of those, and
// the process's start time (field 22 of /proc/<pid>/stat, fixed for its life), which a reused pid does not share.

const MAX_COMMAND = 1024;

export const lockHolderSchema = v.object({
  pid: v.pipe(v.number(), v.safeInteger('is not a whole number'), v.minValue(1, 'is not a process id'), v.maxValue(2 ** 31 - 1, 'is not a process id')),
  host: text(255),
  startedAt: timestamp,
  command: text(MAX_COMMAND),
  processStart: v.optional(v.pipe(v.string(), v.regex(/^\d{1,20}$/, 'is not a start time'))),
  boot: v.optional(text(64)),
  pidNamespace: v.optional(text(64)),
});

export type LockHolder = v.InferOutput<typeof lockHolderSchema>;

/** `alive`: runs on this host; `gone`: its process ended (or it is another one now); `unknown`: cannot be told from here. */
export type HolderState = 'alive' | 'gone' | 'unknown';

function readOrNothing(read: () => string): string | undefined {
  try {
    return read().trim() || undefined;
  } catch {
    return undefined;
  }
}

/** This process, as a lock records it. */
export function thisProcess(): LockHolder {
  const processStart = statFields(process.pid)?.[19];
  const boot = readOrNothing(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').slice(0, 64));
  const pidNamespace = readOrNothing(() => readlinkSync('/proc/self/ns/pid').slice(0, 64));
  return {
    pid: process.pid,
    host: hostname().slice(0, 255),
    startedAt: new Date().toISOString(),
    command: ['aim', ...process.argv.slice(2)].join(' ').slice(0, MAX_COMMAND),
    ...(processStart !== undefined && /^\d{1,20}$/.test(processStart) ? { processStart } : {}),
    ...(boot ? { boot } : {}),
    ...(pidNamespace ? { pidNamespace } : {}),
  };
}

/** Whether signal 0 reaches `pid`: a process of another user answers EPERM, and is alive too. */
function answers(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** Whether `holder` still runs, as far as `me` (this process, on this host) can tell. */
export function holderState(holder: LockHolder, me: LockHolder): HolderState {
  if (holder.host !== me.host) return 'unknown';
  // Containers share the host's kernel, and so its boot id: a lock from before the last boot holds nothing anywhere.
  if (holder.boot !== undefined && me.boot !== undefined && holder.boot !== me.boot) return 'gone';
  if (holder.pidNamespace !== me.pidNamespace) return 'unknown';
  if (!answers(holder.pid) || isZombie(holder.pid)) return 'gone';
  const now = statFields(holder.pid)?.[19];
  if (holder.processStart !== undefined && now !== undefined && now !== holder.processStart) return 'gone';
  return 'alive';
}
