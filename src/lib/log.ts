// Named events for operators: `push started`, `pack written`, `request retried`... Code anywhere emits them through
// `log`; the process's entry point decides once where they go (`configureLog`), so the code that emits them knows
// nothing of terminals, and a library caller that configures nothing gets no output at all. Lines are for people
// and log collectors, never results: the entry point points them at stderr, never stdout.

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug', 'trace'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['text', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** What an event carries besides its name: numbers, names, causes. */
export type LogFields = Record<string, string | number | boolean | undefined>;

export interface LogRecord {
  time: string;
  level: LogLevel;
  event: string;
  fields: LogFields;
}

export interface LogDestination {
  /** The most detailed level written; events below it cost one comparison. */
  level: LogLevel;
  /** Called with each event at or above `level`. */
  write(record: LogRecord): void;
}

let destination: LogDestination | undefined;

/** Where events go from now on; undefined: nowhere. */
export function configureLog(next: LogDestination | undefined): void {
  destination = next;
}

/** Whether events of `level` are written: to skip building costly fields when they are not. */
export function logEnabled(level: LogLevel): boolean {
  return destination !== undefined && LOG_LEVELS.indexOf(level) <= LOG_LEVELS.indexOf(destination.level);
}

function emit(level: LogLevel, event: string, fields: LogFields = {}): void {
  if (!logEnabled(level)) return;
  // Durations to the microsecond: the float noise past that (0.044700971999...) is no information.
  const defined = Object.fromEntries(
    Object.entries(fields)
      .filter(([, value]) => value !== undefined)
      .map(([key, value]) => [key, typeof value === 'number' && !Number.isInteger(value) ? Math.round(value * 1e6) / 1e6 : value]),
  );
  destination!.write({ time: new Date().toISOString(), level, event, fields: defined });
}

export const log = {
  error: (event: string, fields?: LogFields): void => emit('error', event, fields),
  warn: (event: string, fields?: LogFields): void => emit('warn', event, fields),
  info: (event: string, fields?: LogFields): void => emit('info', event, fields),
  debug: (event: string, fields?: LogFields): void => emit('debug', event, fields),
  trace: (event: string, fields?: LogFields): void => emit('trace', event, fields),
};

/** `{"time":...,"level":...,"event":...,...fields}`: one JSON object, one line; the fixed keys cannot be shadowed. */
export function jsonLogLine(record: LogRecord): string {
  return JSON.stringify({ ...record.fields, time: record.time, level: record.level, event: record.event }, keysFirst);
}

// Keeps time, level and event at the front of each line, where a person scanning a log looks for them.
function keysFirst(this: unknown, key: string, value: unknown): unknown {
  if (key !== '' || typeof value !== 'object' || value === null) return value;
  const { time, level, event, ...rest } = value as Record<string, unknown>;
  return { time, level, event, ...rest };
}

/** `2026-01-02T03:04:05.678Z debug push started repo=team model=resnet bytes=1048576`; values with spaces quoted. */
export function textLogLine(record: LogRecord): string {
  const fields = Object.entries(record.fields).map(([key, value]) => `${key}=${textValue(value)}`);
  return [record.time, record.level, record.event, ...fields].join(' ');
}

function textValue(value: string | number | boolean | undefined): string {
  const text = String(value);
  return /^[\w.:/@+=-]+$/.test(text) ? text : JSON.stringify(text);
}
