import { spawn, type StdioOptions } from 'node:child_process';
import { statSync } from 'node:fs';
import { forEachConcurrently } from './concurrently.js';
import { syncFile, syncFolder } from './atomic-write.js';

// Thousands of small files written back to back are made durable together: one syncfs(2) writes back the whole
// file system in one pass with one flush of the disk's cache, where one fsync (or O_DSYNC write) per file waits for
// a flush each (docs/benchmarks.md, "Tiny files pulled"). Node has no binding for syncfs; coreutils' `sync
// --file-system` (Linux) is that one call. Where it cannot run (no such program, or one without the option), the
// files are synced one by one instead, a few at a time.

/** fsyncs at once in the file-by-file way: the disk folds concurrent flushes together. */
const SYNCS_IN_FLIGHT = 16;
/** Folders up to this many are synced each on its own (a sync of the file system also waits for others' writes). */
const FOLDERS_ONE_BY_ONE = 16;

/** Set once `sync --file-system` could not run: it is not tried again (the callers' fallbacks are as safe). */
let unavailable = false;

/** A held folder's `/proc/self/fd/N` (held-folder.ts): the program gets descriptor N as its own 3, not the path. */
const HELD = /^\/proc\/self\/fd\/(\d+)(?=\/|$)/;

/** True when the file system holding `path` was synced as a whole; false when `sync --file-system` could not run. */
export function syncFileSystem(path: string): Promise<boolean> {
  if (unavailable) return Promise.resolve(false);
  const held = HELD.exec(path);
  const stdio: StdioOptions = held ? ['ignore', 'ignore', 'ignore', Number(held[1])] : 'ignore';
  return new Promise<boolean>((resolve) => {
    const child = spawn('sync', ['--file-system', held ? path.replace(HELD, '/proc/self/fd/3') : path], { stdio, windowsHide: true });
    child.on('error', () => resolve(false));
    child.on('close', (code) => resolve(code === 0));
  }).then((synced) => {
    unavailable ||= !synced;
    return synced;
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

/**
 * Makes the names in `folders` durable: each folder's fsync waits for a flush of the disk's cache, so beyond a few
 * folders one sync of each file system they lie on (a folder of DEST may be another file system's mount point), with
 * one flush each, does it instead; each folder's own fsync where that cannot run.
 */
export async function syncFoldersTogether(folders: Set<string>): Promise<void> {
  if (folders.size > FOLDERS_ONE_BY_ONE) {
    const onePerFileSystem = new Map<number, string>();
    for (const folder of folders) {
      const { dev } = statSync(folder);
      if (!onePerFileSystem.has(dev)) onePerFileSystem.set(dev, folder);
    }
    const synced = await Promise.all([...onePerFileSystem.values()].map(syncFileSystem));
    if (synced.every(Boolean)) return;
  }
  await forEachConcurrently(folders, 4, syncFolder);
}
