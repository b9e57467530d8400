import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ttyProgress } from '../../../src/commands/render/progress-renderer.js';

/** A terminal-like stream that keeps what is written to it. */
function terminal(): { stream: NodeJS.WriteStream; text(): string } {
  let written = '';
  const stream = new Writable({
    write(chunk, _encoding, done) {
      written += String(chunk);
      done();
    },
  }) as unknown as NodeJS.WriteStream;
  Object.assign(stream, { isTTY: true, columns: 60, rows: 20, getWindowSize: () => [60, 20] });
  return { stream, text: () => written };
}

describe('progress on a terminal', () => {
  it('a note while a bar is drawn takes the bar line, wrapping, and is not glued to the bar or cut at the edge', () => {
    const { stream, text } = terminal();
    const progress = ttyProgress(stream);
    const task = progress.begin('pulling r/m', 1000);
    const note = `version blake3:${'a'.repeat(64)} has no location map: reading the whole index`;
    progress.note(note);
    task.advance(1000);
    task.end();
    const output = text();
    expect(output).toContain(`\r\x1b[2K\x1b[?7h${note}\n\x1b[?7l\x1b7`);
    // Wrapping is on again once the bar is gone.
    expect(output.lastIndexOf('\x1b[?7h')).toBeGreaterThan(output.lastIndexOf('\x1b[?7l'));
  });

  it('a note with no bar drawn is a plain line', () => {
    const { stream, text } = terminal();
    const progress = ttyProgress(stream);
    progress.note('writing manifest');
    expect(text()).toBe('writing manifest\n');
    progress.begin('pushing', 10).end();
    const before = text().length;
    progress.note('done');
    expect(text().slice(before)).toBe('done\n');
  });
});
