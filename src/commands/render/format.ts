import { counted } from '../../lib/plural.js';
import { terminalLine } from '../../lib/terminal-text.js';

// The one place numbers, sizes, rates and times are turned into text for a person. JSON output never goes
// through here: it carries the raw numbers.

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** `512 B`, `1.50 KiB`, `12.3 MiB`: whole bytes, then two significant decimals below 10 and one above. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '-';
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  if (unit === 0) return `${Math.round(value)} B`;
  return `${value.toFixed(value < 10 ? 2 : 1)} ${BYTE_UNITS[unit]}`;
}

/** Bytes per second over `seconds`, e.g. `690 B/s` or `1.21 GiB/s`; `-` when no time has passed. */
export function formatRate(bytes: number, seconds: number): string {
  return seconds > 0 && Number.isFinite(seconds) ? `${formatBytes(bytes / seconds)}/s` : '-';
}

/** Below this, a duration is mostly start-up and timer noise: a rate over it would be a meaningless figure. */
const MIN_SECONDS_FOR_A_RATE = 0.05;

/**
 * A transfer's time and rate, e.g. `12.0 s (1.21 GiB/s)`: the time alone when nothing moved (an unchanged re-push
 * would otherwise claim hundreds of GiB/s) or the work took too short a time to measure a rate.
 */
export function formatTime(seconds: number, totalBytes: number, bytesMoved: number): string {
  const time = formatSeconds(seconds);
  return bytesMoved > 0 && seconds >= MIN_SECONDS_FOR_A_RATE ? `${time} (${formatRate(totalBytes, seconds)})` : time;
}

/** Seconds of work, e.g. `0.4 s`, `12.0 s`. */
export function formatSeconds(seconds: number): string {
  return Number.isFinite(seconds) && seconds >= 0 ? `${seconds.toFixed(1)} s` : '-';
}

function secondsSince(iso: string, now: number): number | undefined {
  const then = Date.parse(iso);
  return Number.isFinite(then) ? Math.max(0, Math.round((now - then) / 1000)) : undefined;
}

/** `5 minutes ago`; `-` for a timestamp that does not parse. */
export function formatAge(iso: string, now = Date.now()): string {
  const seconds = secondsSince(iso, now);
  if (seconds === undefined) return '-';
  if (seconds < 60) return ago(seconds, 'second');
  if (seconds < 3600) return ago(Math.round(seconds / 60), 'minute');
  if (seconds < 86400) return ago(Math.round(seconds / 3600), 'hour');
  return ago(Math.round(seconds / 86400), 'day');
}

const ago = (count: number, unit: string): string => `${counted(count, unit)} ago`;

/** Compact time since `iso`, e.g. `42s`, `3m05s`, `2h10m`, `4d7h`: how long a deployment has been up. */
export function formatUptime(iso: string, now = Date.now()): string {
  const s = secondsSince(iso, now);
  if (s === undefined) return '-';
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600)}h`;
}

/** A borderless, left-aligned table like `ollama list`. */
export function table(headers: string[], rawRows: string[][]): string {
  // A cell is one line: a line break in a name or quantization read from a repository would forge a row.
  const rows = rawRows.map((row) => row.map(terminalLine));
  const widths = headers.map((header, i) => Math.max(header.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]! + 3))).join('');
  return [line(headers), ...rows.map(line)].join('\n');
}
