// What a pull recorded of the files it installed (DEST/.aim/state.json), checked against the files themselves.
import { lstat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';

/**
 * Every file state.json records is as recorded (size, times, inode): what lets the next pull trust it unread. A record
 * taken from a stat the rename later changed, or another file's, would make every later pull hash the file again,
 * which no other check would notice.
 */
export async function expectRecordsMatch(dest: string): Promise<void> {
  const state = JSON.parse(await readFile(join(dest, '.aim', 'state.json'), 'utf8'));
  const paths = Object.keys(state.files);
  expect(paths.length).toBeGreaterThan(0);
  for (const path of paths) {
    const info = await lstat(join(dest, ...path.split('/')));
    const { size, mtimeMs, ctimeMs, ino } = state.files[path];
    expect({ size, mtimeMs, ctimeMs, ino }, path).toEqual({ size: info.size, mtimeMs: info.mtimeMs, ctimeMs: info.ctimeMs, ino: info.ino });
  }
}
