import { afterEach, describe, expect, it } from 'vitest';
import { configureLog, jsonLogLine, log, logEnabled, textLogLine, type LogRecord } from '../../src/lib/log.js';

describe('log', () => {
  afterEach(() => configureLog(undefined));

  function capture(level: 'info' | 'debug' | 'trace'): LogRecord[] {
    const records: LogRecord[] = [];
    configureLog({ level, write: (record) => records.push(record) });
    return records;
  }

  it('writes nothing until a destination is configured', () => {
    expect(logEnabled('error')).toBe(false);
    log.error('nobody listens'); // must not throw
  });

  it('writes events at or above the level, drops undefined fields, rounds durations', () => {
    const records = capture('debug');
    log.info('push started', { repo: 'r', bytes: 10, skipped: undefined });
    log.debug('pack written', { seconds: 0.1234567891 });
    log.trace('chunk stored', { size: 1 });
    expect(records.map((record) => [record.level, record.event, record.fields])).toEqual([
      ['info', 'push started', { repo: 'r', bytes: 10 }],
      ['debug', 'pack written', { seconds: 0.123457 }],
    ]);
    expect(logEnabled('trace')).toBe(false);
  });

  it('a JSON line starts with time, level, event, and a field cannot shadow them', () => {
    const line = jsonLogLine({ time: 'T', level: 'info', event: 'push complete', fields: { event: 'forged', level: 'error', bytes: 3 } });
    expect(line).toBe('{"time":"T","level":"info","event":"push complete","bytes":3}');
  });

  it('a text line quotes values with spaces or quotes, so one field cannot pass for two', () => {
    const line = textLogLine({ time: 'T', level: 'debug', event: 'request retried', fields: { cause: 'SlowDown (503)', attempt: 2, key: 'a b=c' } });
    expect(line).toBe('T debug request retried cause="SlowDown (503)" attempt=2 key="a b=c"');
  });
});
