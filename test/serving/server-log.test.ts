import { closeSync, constants, openSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createServerLog } from '../../src/serving/embedded/server-log.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'aim-log-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const openAppend = (path: string) => openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT);

describe('the embedded server log', () => {
  it('stays under its bound, keeping one previous file, however much is written', () => {
    const path = join(dir, 'tiny.log');
    const fd = openAppend(path);
    try {
      const log = createServerLog({ path, fd, maxBytes: 4096 });
      for (let i = 0; i < 2000; i++) log(`line ${i} ${'x'.repeat(50)}`);
      expect(statSync(path).size).toBeLessThanOrEqual(4096);
      expect(statSync(`${path}.1`).size).toBeGreaterThan(4096);
      expect(statSync(`${path}.1`).size).toBeLessThan(4096 + 200);
      // The newest lines are in the current file, the ones just before in the previous one.
      expect(readFileSync(path, 'utf8')).toMatch(/line 1999 x+\n$/);
      expect(readFileSync(`${path}.1`, 'utf8')).toMatch(/^\S+ line \d+ x+\n/);
    } finally {
      closeSync(fd);
    }
  });

  it('keeps writing at the start of the file after a rotation (another descriptor in append mode too)', () => {
    const path = join(dir, 'tiny.log');
    const fd = openAppend(path);
    const stderr = openAppend(path);
    try {
      const log = createServerLog({ path, fd, maxBytes: 1024 });
      for (let i = 0; i < 30; i++) log('y'.repeat(60));
      writeFileSync(stderr, 'native abort\n');
      const text = readFileSync(path, 'utf8');
      expect(text.startsWith('\0')).toBe(false);
      expect(text).toMatch(/native abort\n$/);
      expect(statSync(path).size).toBeLessThan(1024);
    } finally {
      closeSync(fd);
      closeSync(stderr);
    }
  });

  it('replaces a link planted at the previous file instead of writing through it', () => {
    const path = join(dir, 'tiny.log');
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'keep me');
    symlinkSync(victim, `${path}.1`);
    const fd = openAppend(path);
    try {
      const log = createServerLog({ path, fd, maxBytes: 512 });
      for (let i = 0; i < 20; i++) log('z'.repeat(60));
      expect(readFileSync(victim, 'utf8')).toBe('keep me');
      expect(readFileSync(`${path}.1`, 'utf8')).toMatch(/z{60}/);
    } finally {
      closeSync(fd);
    }
  });
});
