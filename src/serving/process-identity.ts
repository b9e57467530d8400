// Is the process behind a recorded pid still the one we started? Pids are reused: after a reboot or enough
// processes, the pid in a deployment record may belong to anything, and `aim stop` must never signal it. Linux tells
// a process apart by its start time (field 22 of /proc/<pid>/stat, clock ticks since boot, fixed for its life) and
// its command line; both are recorded when the server starts and compared before any signal.
import { readFileSync } from 'node:fs';

export interface ProcessIdentity {
  pid: number;
  /** Field 22 of /proc/<pid>/stat, as written there. */
  startTime: string;
  /** /proc/<pid>/cmdline split at its NULs. */
  cmdline: string[];
}

/** /proc files are small; a larger answer is not what we are looking for. */
const PROC_READ_LIMIT = 64 * 1024;

export function readProc(pid: number, file: string): string | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/${file}`, 'utf8');
    return text.length > PROC_READ_LIMIT ? undefined : text;
  } catch {
    return undefined;
  }
}

/** The fields after the command name, which may itself hold spaces and parentheses (hence the last ')'). */
export function statFields(pid: number): string[] | undefined {
  const stat = readProc(pid, 'stat');
  if (stat === undefined) return undefined;
  const close = stat.lastIndexOf(')');
  return close < 0 ? undefined : stat.slice(close + 2).trim().split(' ');
}

/** Whether this system can tell processes apart (Linux's /proc). */
export function canIdentifyProcesses(): boolean {
  return statFields(process.pid) !== undefined;
}

/** The identity of a live process, or undefined when it is gone (or /proc is not there). */
export function processIdentity(pid: number): ProcessIdentity | undefined {
  const fields = statFields(pid);
  // Field 3 (state) is fields[0], so field 22 (starttime) is fields[19].
  const startTime = fields?.[19];
  const cmdline = readProc(pid, 'cmdline');
  if (!fields || startTime === undefined || !/^\d+$/.test(startTime) || cmdline === undefined) return undefined;
  return { pid, startTime, cmdline: cmdline.split('\0').filter((arg, i, all) => i < all.length - 1 || arg !== '') };
}

/**
 * A zombie still answers signal 0 but is gone for every purpose of ours. A detached server outlives the CLI that
 * started it, so its parent becomes PID 1; in a container whose PID 1 does not reap children, a dead server stays a
 * zombie (state Z).
 */
export function isZombie(pid: number): boolean {
  return statFields(pid)?.[0] === 'Z';
}

/**
 * True when `recorded` names a live process with the same start time and command line. Anything else (gone, a
 * zombie, a reused pid, a record from a system without /proc) is not ours to signal.
 */
export function isSameProcess(recorded: ProcessIdentity): boolean {
  const now = processIdentity(recorded.pid);
  if (!now || isZombie(recorded.pid)) return false;
  return now.startTime === recorded.startTime && now.cmdline.length === recorded.cmdline.length
    && now.cmdline.every((arg, i) => arg === recorded.cmdline[i]);
}
