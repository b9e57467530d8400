import { randomBytes } from 'node:crypto';
import { constants, lstatSync, unlinkSync } from 'node:fs';
import { link, lstat, open, readdir, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ConflictError, StorageError, type AimError } from '../../lib/errors.js';
import { HeldFolder, withShownPaths } from '../../lib/held-folder.js';
import { log } from '../../lib/log.js';
import { pollUntil } from '../../lib/poll.js';
import { openRegular, readFully, realFolder, removeEmptyFolders } from '../../lib/safe-fs.js';
import { pullLockWaitMs } from '../../settings/pull-lock.js';
import { corrupt, parseJson, type Format } from '../format/schemas/parse.js';
import { holderState, lockHolderSchema, thisProcess, type HolderState, type LockHolder } from './dest-lock-holder.js';

// One aim command writes a destination at a time, as git's index.lock: `DEST/.aim/lock` names the process holding
// it, and every command that writes DEST (pull, install, run, bundle, MCP's pull) takes it before it touches
// `.aim/partial` or `state.json`, and lets go on every way out (a signal included: the 'exit' listener below). A
// second command waits while the holder runs, up to a bound; takes over the lock of a holder that is gone (only
// `kill -9` or a power cut leaves one); and cannot tell about a holder on another host (an NFS folder), so it waits
// and then names the file to delete. The lock appears whole (written aside, then linked: link(2) fails on any name
// already there, also on NFS, and never follows a link), and is read as anything in DEST may be: bounded, never
// through a link, checked against its schema.

const LOCK_NAME = 'lock';
/** Taken, the same way, by the one command removing a dead holder's lock, so that no other removes a new one. */
const BREAK_NAME = 'lock.break';
const MAX_LOCK_BYTES = 4096;
const POLL_MS = 200;
/** Codes with which link(2) says the file system has no hard links (FAT, some FUSE and SMB mounts). */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);
const EXCLUSIVE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

export interface DestinationLock {
  /** Removes the lock if it is still this one; closes its folder. Synchronous: it also runs as the process exits. */
  release(): void;
}

export interface LockOptions {
  /** How long to wait for a live holder (default: AIM_PULL_LOCK_WAIT_MS, else 10 minutes). */
  waitMs?: number;
  /**
   * Told who holds DEST when the wait begins, then every WAIT_NOTE_MS while it lasts: an MCP client hears progress
   * and keeps its request alive.
   */
  onWait?: (line: string) => void;
}

const WAIT_NOTE_MS = 10_000;

interface FileId {
  ino: number;
  dev: number;
}

type Found = { holder: LockHolder; id: FileId } | 'missing' | 'empty';
type Waited = { holder: LockHolder; state: HolderState } | 'empty';
/** DEST and its lock file, as the user knows them: for messages. */
type Where = { dest: string; lock: string };

/**
 * Takes the lock of the destination whose `.aim` is `aimParts` below `root` (each a real folder, made if missing, as
 * prepareDestination checks them), waiting for a live holder as LockOptions says.
 */
export async function lockDestination(root: string, aimParts: string[], options: LockOptions = {}): Promise<DestinationLock> {
  const aimPath = join(root, ...aimParts);
  const where = { dest: dirname(aimPath), lock: join(aimPath, LOCK_NAME) };
  const waitMs = options.waitMs ?? pullLockWaitMs();
  const me = thisProcess();
  const announced = new Set<string>();
  let notedAt = -Infinity;
  const attempt = async (): Promise<{ done: true; value: DestinationLock } | { done: false; last?: Waited }> => {
    // A folder removed, a lock released or a dead holder's removed between two steps is looked at again at once.
    for (let tries = 0; tries < 4; tries++) {
      const outcome = await attemptOnce(root, aimParts, me, where).catch(againIfGone);
      if (outcome === 'again') continue;
      if (outcome instanceof HeldLock) return { done: true, value: outcome };
      if (outcome !== 'empty') announce(outcome, where, waitMs, announced);
      if (outcome !== 'empty' && options.onWait && waitMs > 0 && performance.now() - notedAt >= WAIT_NOTE_MS) {
        notedAt = performance.now();
        options.onWait(`waiting for another aim command writing ${where.dest} (${holderText(outcome)})`);
      }
      return { done: false, last: outcome };
    }
    return { done: false };
  };
  return pollUntil(attempt, { intervalMs: POLL_MS, timeoutMs: waitMs, onTimeout: (last) => gaveUp(last as Waited | undefined, where, waitMs) });
}

/**
 * Runs `change` holding the lock in the folder `aimParts` names below `root` (taken as a destination's), then lets go
 * and removes that folder once it is empty, then each of `thenEmpty` while it is: the lock of a folder of records,
 * among which it must leave nothing. One taking the lock meanwhile finds the folder gone and looks again.
 */
export async function withLockIn<T>(root: string, aimParts: string[], change: () => Promise<T>, thenEmpty: string[] = []): Promise<T> {
  const lock = await lockDestination(root, aimParts);
  try {
    return await change();
  } finally {
    lock.release();
    await removeEmptyFolders([join(root, ...aimParts), ...thenEmpty]);
  }
}

async function attemptOnce(root: string, aimParts: string[], me: LockHolder, where: Where): Promise<HeldLock | Waited | 'again'> {
  await realFolder(root, aimParts, { create: true });
  const aim = HeldFolder.open(root, aimParts);
  let held: HeldLock | undefined;
  try {
    // Looked at before anything is written: a command waiting here writes nothing until the name is free.
    const found = await readLock(aim, LOCK_NAME, where);
    // Since now, not since the wait began: what the next command waiting is told.
    const body = `${JSON.stringify({ ...me, startedAt: new Date().toISOString() })}\n`;
    if (found === 'missing') {
      const made = await createExclusive(aim, LOCK_NAME, body);
      if (!made) return 'again';
      held = new HeldLock(aim, made);
      await removeLeftTemps(aim);
      return held;
    }
    if (found === 'empty') return 'empty';
    const state = holderState(found.holder, me);
    if (state !== 'gone') return { holder: found.holder, state };
    if (await breakLock(aim, found.id, body, where)) log.info(`took over the lock of an aim command that is gone: ${where.lock}`, holderFields(found.holder));
    return 'again';
  } catch (error) {
    // Named by the user's paths while `.aim` is still held: its /proc/self/fd/N means nothing once let go.
    throw withShownPaths(error);
  } finally {
    if (!held) aim.close();
  }
}

function unlessGone(error: unknown): void {
  if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
}

function againIfGone(error: unknown): 'again' {
  if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'again';
  throw error;
}

/** The temp file createExclusive writes `name` through: a command killed before it removed it leaves it behind. */
const tempOf = (name: string): string => `.${name}.${randomBytes(6).toString('hex')}.tmp`;
const TEMP = /^\.lock(\.break)?\.[0-9a-f]{12}\.tmp$/;

/**
 * Removes the temp files of commands killed while they took the lock. One still in use by a command taking it now
 * is safe to remove too: its link fails ENOENT, and it looks again.
 */
async function removeLeftTemps(aim: HeldFolder): Promise<void> {
  const names = await readdir(aim.via).catch(() => [] as string[]);
  for (const name of names.filter((n) => TEMP.test(n))) await unlink(aim.at(name)).catch(() => undefined);
}

/** Makes `name` in `aim` holding `body`, whole from the moment it appears; undefined when the name is taken. */
async function createExclusive(aim: HeldFolder, name: string, body: string): Promise<FileId | undefined> {
  const temp = aim.at(tempOf(name));
  const made = await writeNew(temp, body);
  try {
    await link(temp, aim.at(name));
    return made;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    // Over NFS a link whose reply was lost is sent again and fails EEXIST: the temp's link count tells (open(2)).
    if (code === 'EEXIST') return (await lstat(temp)).nlink === 2 ? made : undefined;
    if (!NO_HARD_LINKS.has(code)) throw error;
    // No hard links: the name is made exclusively and written after, so a reader may find it empty for a moment.
    return writeNew(aim.at(name), body).catch((failed: NodeJS.ErrnoException) => {
      if (failed.code === 'EEXIST') return undefined;
      throw failed;
    });
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

async function writeNew(path: string, body: string): Promise<FileId> {
  const handle = await open(path, EXCLUSIVE, 0o644);
  try {
    await handle.writeFile(body);
    // A lock that survives a power cut must read: a name linked to bytes never written would hold DEST for good.
    await handle.sync();
    const { ino, dev } = await handle.stat();
    return { ino, dev };
  } finally {
    await handle.close();
  }
}

/** The holder `name` records; 'missing' when it is gone meanwhile, 'empty' while a holder is still writing it. */
async function readLock(aim: HeldFolder, name: string, where: Where): Promise<Found> {
  const shown = join(dirname(where.lock), name);
  const hint = `if no aim command is writing ${where.dest}, delete ${shown}`;
  const handle = await openRegular(aim.at(name)).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error instanceof StorageError ? new StorageError(error.message, { hint }) : error;
  });
  if (!handle) return 'missing';
  try {
    const format: Format = { what: 'destination lock', maxBytes: MAX_LOCK_BYTES, hint };
    const { size, ino, dev } = await handle.stat();
    if (size > MAX_LOCK_BYTES) throw corrupt(format, shown, `${size} bytes, more than the ${MAX_LOCK_BYTES} a lock holds`);
    if (size === 0) return 'empty';
    const bytes = Buffer.alloc(size);
    const read = await readFully(handle, bytes, 0);
    return { holder: parseJson(lockHolderSchema, bytes.subarray(0, read), format, shown), id: { ino, dev } };
  } finally {
    await handle.close();
  }
}

/**
 * Removes the lock `stale` (its holder is gone) and says so, unless another command took the name meanwhile: the check
 * and the removal are made holding BREAK_NAME, so two commands taking over at once cannot remove each other's new lock.
 * A break file whose own holder is gone (killed within those few calls) is removed first.
 */
async function breakLock(aim: HeldFolder, stale: FileId, body: string, where: Where): Promise<boolean> {
  const made = await createExclusive(aim, BREAK_NAME, body);
  if (!made) {
    const breaker = await readLock(aim, BREAK_NAME, where).catch(() => undefined);
    const dead = breaker === undefined || breaker === 'empty' || (breaker !== 'missing' && holderState(breaker.holder, thisProcess()) === 'gone');
    // One that cannot be removed (a folder put there) is reported: waiting would not make it go.
    if (dead) await unlink(aim.at(BREAK_NAME)).catch(unlessGone);
    return false;
  }
  try {
    const now = await lstat(aim.at(LOCK_NAME)).catch(() => undefined);
    if (!now || now.ino !== stale.ino || now.dev !== stale.dev) return false;
    await unlink(aim.at(LOCK_NAME));
    return true;
  } finally {
    removeIfSame(aim.at(BREAK_NAME), made);
  }
}

function removeIfSame(path: string, id: FileId): void {
  const now = lstatSync(path, { throwIfNoEntry: false });
  if (now && now.ino === id.ino && now.dev === id.dev) unlinkSync(path);
}

const heldLocks = new Set<HeldLock>();
let releaseOnExit = false;

class HeldLock implements DestinationLock {
  constructor(
    private readonly aim: HeldFolder,
    private readonly made: FileId,
  ) {
    heldLocks.add(this);
    if (!releaseOnExit) {
      releaseOnExit = true;
      // cli.ts emits 'exit' before it ends the process by a signal: Ctrl-C and SIGTERM let go of DEST too.
      process.on('exit', () => {
        for (const lock of heldLocks) lock.release();
      });
    }
  }

  release(): void {
    if (!heldLocks.delete(this)) return;
    try {
      removeIfSame(this.aim.at(LOCK_NAME), this.made);
    } catch {
      // DEST or its .aim gone meanwhile: nothing is left to let go of.
    } finally {
      this.aim.close();
    }
  }
}

/** Who holds the lock, as one phrase: `pid 12 (on host), since 2026-…: aim pull …`. */
function holderText({ holder, state }: { holder: LockHolder; state: HolderState }): string {
  return `pid ${holder.pid}${state === 'unknown' ? ` on ${holder.host}` : ''}, since ${holder.startedAt}: ${holder.command}`;
}

function holderFields(holder: LockHolder): Record<string, string | number> {
  return { pid: holder.pid, host: holder.host, since: holder.startedAt, command: holder.command };
}

const shownWait = (ms: number): string => (ms >= 60_000 ? `${Math.round(ms / 6000) / 10} min` : `${Math.round(ms / 100) / 10} s`);

/** One line when a wait begins (and when the holder changes): who holds DEST, since when, how long this one waits. */
function announce(waited: { holder: LockHolder; state: HolderState }, where: Where, waitMs: number, announced: Set<string>): void {
  const key = `${waited.holder.host} ${waited.holder.pid} ${waited.holder.startedAt}`;
  if (waitMs === 0 || announced.has(key)) return;
  announced.add(key);
  const elsewhere = waited.state === 'unknown' ? ` (on ${waited.holder.host}: if no aim runs there, delete ${where.lock})` : '';
  log.warn(`waiting for another aim command writing ${where.dest}${elsewhere}`, { ...holderFields(waited.holder), wait: shownWait(waitMs) });
}

function gaveUp(last: Waited | undefined, where: Where, waitMs: number): AimError {
  const hint = `if no aim command is writing ${where.dest}, delete ${where.lock}`;
  if (last === 'empty') return corrupt({ what: 'destination lock', maxBytes: MAX_LOCK_BYTES, hint }, where.lock, 'the file is empty');
  const waited = waitMs === 0 ? '' : ` (waited ${shownWait(waitMs)})`;
  if (!last) return new ConflictError(`${where.dest} is being written by another aim command${waited}`, { hint });
  const { holder, state } = last;
  return new ConflictError(`${where.dest} is being written by another aim command (${holderText(last)})${waited}`, {
    hint:
      state === 'unknown'
        ? `if no aim runs on ${holder.host} any more, delete ${where.lock}`
        : `run this again once that one has ended (AIM_PULL_LOCK_WAIT_MS sets how long to wait); if pid ${holder.pid} is no aim command, delete ${where.lock}`,
  });
}
