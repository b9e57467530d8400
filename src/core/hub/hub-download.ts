// One file from the hub into a partial file that survives a kill: a rerun hashes the bytes already on disk and asks
// only for the rest (Range: bytes=N-). The content is hashed as it arrives and checked against the sha256 the hub
// publishes; a mismatch deletes the partial file and fails with an IntegrityError, so nothing is tagged or served.
// The declared size bounds what is written: a server that sends more is cut off.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, mkdir, open, rename, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ConflictError, IntegrityError, StorageError } from '../../lib/errors.js';
import { readRegularFile } from '../../lib/safe-fs.js';
import { isAlive } from '../../serving/process-utils.js';
import type { ProgressTask } from '../progress.js';
import type { HubFile } from './hub-api.js';
import { resolvePath } from './hub-api.js';
import { idleBounded, type HubHttp, type HubReply } from './hub-http.js';

/** Flushed to disk at this interval, so a power loss loses at most this much of the download. */
const SYNC_EVERY_BYTES = 64 * 1024 * 1024;

async function partialSize(path: string): Promise<number> {
  const info = await lstat(path).catch(() => undefined);
  if (info?.isFile()) return info.size;
  if (info) await rm(path, { recursive: true, force: true });
  return 0;
}

async function hashExisting(path: string, size: number): Promise<Hash> {
  const hash = createHash('sha256');
  if (size === 0) return hash;
  for await (const part of createReadStream(path, { start: 0, end: size - 1 })) hash.update(part as Buffer);
  return hash;
}

/** Where a 206 reply's Content-Range starts, when it is "bytes START-END/TOTAL" for this file. */
function rangeStart(reply: HubReply, total: number): number | undefined {
  const match = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(reply.headers.get('content-range') ?? '');
  if (!match || Number(match[3]) !== total || Number(match[2]) !== total - 1) return undefined;
  return Number(match[1]);
}

/**
 * Two runs appending to one partial file would corrupt it: the first takes `part`.lock with its pid; a later one
 * fails plainly while that process lives, and takes over a lock whose process is gone (killed runs leave theirs).
 */
async function lockPartial(part: string, what: string): Promise<() => Promise<void>> {
  const lock = `${part}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(lock, String(process.pid), { flag: 'wx' });
      return () => rm(lock, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = Number((await readRegularFile(lock, 32).catch(() => Buffer.alloc(0))).toString('utf8'));
    if (Number.isInteger(holder) && holder > 1 && holder !== process.pid && isAlive(holder)) {
      throw new ConflictError(`another aim (pid ${holder}) is downloading ${what}`, { hint: 'wait for it to finish, then run the command again: it will find the model downloaded' });
    }
    await rm(lock, { force: true });
  }
  throw new ConflictError(`could not take ${lock}`, { hint: 'another aim is downloading the same file; run the command again' });
}

/** Downloads `file` of `repo` to `dest` (through `dest`.part), resuming a partial file; advances `task`. */
export async function downloadHubFile(http: HubHttp, repo: string, file: HubFile, dest: string, task: ProgressTask): Promise<void> {
  const part = `${dest}.part`;
  await mkdir(dirname(part), { recursive: true });
  const unlock = await lockPartial(part, `${repo}/${file.name}`);
  try {
    await downloadLocked(http, repo, file, dest, part, task);
  } finally {
    await unlock();
  }
}

async function downloadLocked(http: HubHttp, repo: string, file: HubFile, dest: string, part: string, task: ProgressTask): Promise<void> {
  let have = await partialSize(part);
  if (have > file.size) have = 0;
  let hash = await hashExisting(part, have);
  if (have < file.size) {
    const reply = await http.get(http.url(resolvePath(repo, file.name)), have > 0 ? { range: `bytes=${have}-` } : {});
    http.checkStatus(reply, `${repo}/${file.name}`);
    if (reply.status !== 206 || rangeStart(reply, file.size) !== have) {
      // A server that ignores the Range sends the whole file: start over rather than append it.
      have = 0;
      hash = createHash('sha256');
    }
    task.update?.(have);
    const handle = await open(part, have === 0 ? 'w' : 'a');
    try {
      have = await receive(reply, handle, hash, have, file, task);
      await handle.sync();
    } finally {
      await handle.close();
    }
  } else {
    task.update?.(have);
  }
  if (have !== file.size) {
    throw new StorageError(`the download of ${repo}/${file.name} ended at ${have} of ${file.size} bytes`, { hint: 'run the command again: it resumes where it stopped' });
  }
  const digest = hash.digest('hex');
  if (file.sha256 && digest !== file.sha256) {
    await rm(part, { force: true });
    throw new IntegrityError(`${repo}/${file.name} does not match the sha256 the hub publishes (got ${digest}, expected ${file.sha256})`, {
      hint: 'nothing was installed; run the command again to download it afresh, or report the repository',
    });
  }
  await rename(part, dest);
}

async function receive(reply: HubReply, handle: FileHandle, hash: Hash, start: number, file: HubFile, task: ProgressTask): Promise<number> {
  let have = start;
  let unsynced = 0;
  for await (const part of idleBounded(reply)) {
    if (have + part.byteLength > file.size) {
      reply.abort();
      throw new IntegrityError(`${file.name} is longer than the ${file.size} bytes the hub declares`, { hint: 'nothing was installed; report the repository or check HF_ENDPOINT' });
    }
    await handle.write(part);
    hash.update(part);
    have += part.byteLength;
    unsynced += part.byteLength;
    task.advance(part.byteLength);
    if (unsynced >= SYNC_EVERY_BYTES) {
      await handle.datasync();
      unsynced = 0;
    }
  }
  return have;
}
