import { spawn, type StdioOptions } from 'node:child_process';
import { forEachConcurrently } from './concurrently.js';
import { syncFile } from './atomic-write.js';

// Thousands of small files written back to back are made durable together: one syncfs(2) writes back the whole
// file system in one pass with one flush of the disk's cache, where one fsync (or O_DSYNC write) per file waits for
// a flush each (docs/benchmarks.md, "Tiny files pulled"). Node has no binding for syncfs; coreutils' `sync
// --file-system` (Linux) is that one call. Where it cannot run (no such program, or one without the option), the
// files are synced one by one instead, a few at a time.

/** fsyncs at once in the file-by-file way: the disk folds concurrent flushes together. */
const SYNCS_IN_FLIGHT = 16;

/** A held folder's `/proc/self/fd/N` (held-folder.ts): the program gets descriptor N as its own 3, not the path. */
const HELD = /^\/proc\/self\/fd\/(\d+)(?=\/|$)/;

/** True when the file system holding `path` was synced as a whole; false when `sync --file-system` could not run. */
export function syncFileSystem(path: string): Promise<boolean> {
  const held = HELD.exec(path);
  const stdio: StdioOptions = held ? ['ignore', 'ignore', 'ignore', Number(held[1])] : 'ignore';
  return new Promise((resolve) => {
    const child = spawn('sync', ['--file-system', held ? path.replace(HELD, '/proc/self/fd/3') : path], { stdio, windowsHide: true });
    child.on('error', () => resolve(false));
    child.on('close', (code) => resolve(code === 0));
  });
}

/**
 * Makes the regular files at `paths` (all in the file system holding `folder`) durable: one sync of that file system,
 * or, where that cannot run, each file's own fsync.
 */
export async function syncFilesTogether(folder: string, paths: Iterable<string>): Promise<void> {
  if (await syncFileSystem(folder)) return;
  await forEachConcurrently(paths, SYNCS_IN_FLIGHT, syncFile);
}
