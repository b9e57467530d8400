// The one place terminal output is made safe: what a repository, a server or a file name holds must not reach the
// terminal as a control sequence, while the layout's own line breaks stay.
import { describe, expect, it } from 'vitest';
import { formatError, formatWarning } from '../../../src/commands/render/errors.js';
import { formatAge, formatBytes, formatRate, formatSeconds } from '../../../src/commands/render/format.js';
import { jsonText, terminalLine, terminalText } from '../../../src/lib/terminal-text.js';
import { IntegrityError } from '../../../src/lib/errors.js';

// Every C0 control, DEL, every C1 control and the bidirectional overrides.
const CONTROLS = [
  ...Array.from({ length: 0x20 }, (_, i) => String.fromCharCode(i)),
  ...Array.from({ length: 0x21 }, (_, i) => String.fromCharCode(0x7f + i)),
  '\u200e', '\u200f', '\u202a', '\u202b', '\u202c', '\u202d', '\u202e', '\u2066', '\u2067', '\u2068', '\u2069',
];
const RAW = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

describe('terminal escaping', () => {
  it('escapes every control character and keeps line breaks in multi-line text', () => {
    for (const control of CONTROLS) {
      const text = terminalText(`a${control}b\nc`);
      expect(text, JSON.stringify(control)).not.toMatch(RAW);
      expect(text.endsWith('\nc')).toBe(true);
    }
    expect(terminalText('desc: \x1b]0;pwned\x07 \x1b[2J')).toBe('desc: \\x1b]0;pwned\\x07 \\x1b[2J');
    expect(terminalLine('a\u2028aim: all good\u2029')).toBe('a\\u2028aim: all good\\u2029');
  });

  it('keeps a one-line message on one line', () => {
    expect(terminalLine('bad\nname\r\x9b')).toBe('bad\\nname\\r\\x9b');
    const { text } = formatError(new IntegrityError('corrupt tag "x\x1b[31m"\nfake line', { hint: 'hint\x1b[0m' }), 0);
    expect(text).toBe('aim: error: corrupt tag "x\\x1b[31m"\\nfake line\n  hint: hint\\x1b[0m\n');
    // A hint may span lines (a log tail), indented so that no line of it passes for one of aim's own.
    const multi = formatError(new IntegrityError('engine failed', { hint: 'last lines:\naim: error: forged\n    kept\x1b[0m' }), 0).text;
    expect(multi).toBe('aim: error: engine failed\n  hint: last lines:\n    aim: error: forged\n    kept\\x1b[0m\n');
    expect(formatWarning('skipped models/a\nb')).toBe('aim: warning: skipped models/a\\nb\n');
    expect(formatError(new Error('S3 said \x1b[2J'), 0).text).not.toMatch(RAW);
  });

  it('keeps --json valid and equal while escaping what JSON.stringify leaves raw', () => {
    const data = { name: `x${CONTROLS.join('')}y`, nested: ['\u202eevil', '\x9b2J'] };
    const text = jsonText(data);
    expect(text).not.toMatch(RAW);
    expect(JSON.parse(text)).toEqual(data);
  });
});

describe('number formatting', () => {
  it('prints whole bytes and rounded rates', () => {
    expect(formatRate(29000, 42)).toBe('690 B/s');
    expect(formatBytes(690.4761904761905)).toBe('690 B');
    expect(formatBytes(1536)).toBe('1.50 KiB');
    expect(formatBytes(12.34 * 1024 * 1024)).toBe('12.3 MiB');
    expect(formatRate(3 * 1024 ** 3, 2)).toBe('1.50 GiB/s');
    expect(formatRate(100, 0)).toBe('-');
    expect(formatBytes(Number.NaN)).toBe('-');
    expect(formatSeconds(0.44)).toBe('0.4 s');
  });

  it('says how long ago in words, singular for one', () => {
    const now = Date.parse('2026-12-06T12:00:00Z');
    const at = (secondsBefore: number) => new Date(now - secondsBefore * 1000).toISOString();
    expect(formatAge(at(1), now)).toBe('1 second ago');
    expect(formatAge(at(42), now)).toBe('42 seconds ago');
    expect(formatAge(at(60), now)).toBe('1 minute ago');
    expect(formatAge(at(7200), now)).toBe('2 hours ago');
    expect(formatAge(at(86400), now)).toBe('1 day ago');
    expect(formatAge('not a date', now)).toBe('-');
  });
});
