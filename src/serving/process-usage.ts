// What a local engine process costs, as `aim ps` shows it: resident memory, CPU time and its share of the process's
// life, and how long it has run, from Linux's /proc. Each field is checked to be plain digits before use: the pid
// comes from a record in AIM_HOME and could by now be anything (the caller shows usage only for a process it has
// identified as ours, see process-identity.ts).
import { readFileSync } from 'node:fs';
import { readProc, statFields } from './process-identity.js';

export interface ProcessUsage {
  /** Resident set size (VmRSS). */
  rssBytes: number;
  /** User plus system CPU time. */
  cpuSeconds: number;
  /** CPU time over time alive, as `ps` computes %CPU: 100 is one core busy for the whole life of the process. */
  cpuPercent: number;
  uptimeSeconds: number;
}

/**
 * Clock ticks per second of /proc's times. Linux reports them in USER_HZ, which is 100 on every architecture it
 * exports to user space (sysconf(_SC_CLK_TCK), which Node does not expose, returns that constant).
 */
const TICKS_PER_SECOND = 100;

const whole = (text: string | undefined): number | undefined => (text !== undefined && /^\d{1,20}$/.test(text) ? Number(text) : undefined);

/** Seconds since boot, the first field of /proc/uptime ("12345.67 23456.78"). */
function systemUptimeSeconds(): number | undefined {
  let text = '';
  try {
    text = readFileSync('/proc/uptime', 'utf8').slice(0, 100);
  } catch {
    return undefined;
  }
  const match = /^(\d{1,12}(?:\.\d{1,3})?) /.exec(text);
  return match ? Number(match[1]) : undefined;
}

function rssBytes(pid: number): number | undefined {
  const match = /^VmRSS:\s+(\d{1,15}) kB$/m.exec(readProc(pid, 'status') ?? '');
  return match ? Number(match[1]) * 1024 : undefined;
}

/** The process's usage, or undefined when it is gone, /proc is not there, or what it says does not read. */
export function processUsage(pid: number): ProcessUsage | undefined {
  const fields = statFields(pid);
  // Field 14 (utime), 15 (stime) and 22 (starttime) are fields[11], [12] and [19]: fields[0] is field 3.
  const [utime, stime, startTicks] = [whole(fields?.[11]), whole(fields?.[12]), whole(fields?.[19])];
  const bootSeconds = systemUptimeSeconds();
  const rss = rssBytes(pid);
  if (utime === undefined || stime === undefined || startTicks === undefined || bootSeconds === undefined || rss === undefined) return undefined;
  const cpuSeconds = (utime + stime) / TICKS_PER_SECOND;
  const uptimeSeconds = Math.max(0, bootSeconds - startTicks / TICKS_PER_SECOND);
  const cpuPercent = uptimeSeconds > 0 ? Math.round((cpuSeconds / uptimeSeconds) * 1000) / 10 : 0;
  return { rssBytes: rss, cpuSeconds, cpuPercent, uptimeSeconds: Math.round(uptimeSeconds) };
}
