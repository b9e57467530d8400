import { hostname } from 'node:os';
import * as v from 'valibot';
import type { Backend } from '../../backends/backend.js';
import { ConflictError, IntegrityError } from '../../lib/errors.js';
import { undefinedIfNotFound } from '../../lib/not-found.js';
import { parseJsonOrUndefined, timestamp, type Format } from '../format/schemas/parse.js';
import { getBounded } from '../store/bounded-read.js';

// One gc at a time, as git's gc.pid: `gc/lock` names the host and process holding it, and the push id its new packs
// carry. A lock left by a gc that was killed on this host (its process is gone) is taken over; one from another host
// is trusted for STALE_MS. The gc taking over also takes over the killed one's new packs: they are judged like any
// other (pending.ts would otherwise keep them for the next push to take back).

const LOCK_KEY = 'gc/lock';
const LOCK_FORMAT: Format = { what: 'gc lock', maxBytes: 4096, hint: 'delete it if no gc is running' };
const lockSchema = v.object({ host: v.string(), pid: v.pipe(v.number(), v.integer()), startedAt: timestamp, pushId: v.optional(v.pipe(v.string(), v.regex(/^[0-9a-f]{16}$/))) });
const STALE_MS = 12 * 60 * 60 * 1000;

export interface GcLock {
  /** True when a lock left by a killed gc was taken over. */
  tookOver: boolean;
  /** The push id of the killed gc's new packs, when it said. */
  previousPushId?: string;
  release(): Promise<void>;
}

function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

export async function acquireGcLock(backend: Backend, repoName: string, pushId: string): Promise<GcLock> {
  const body = Buffer.from(`${JSON.stringify({ host: hostname(), pid: process.pid, startedAt: new Date().toISOString(), pushId })}\n`);
  const release = async (): Promise<void> => backend.delete(LOCK_KEY);
  if (await backend.putIfAbsent(LOCK_KEY, body)) return { tookOver: false, release };
  // A lock that does not read is no gc's (a gc writes it in one atomic put): taken over like a stale one.
  const bytes = await getBounded(backend, LOCK_KEY, LOCK_FORMAT, `${LOCK_KEY} in ${backend.location}`).catch((error: unknown) =>
    error instanceof IntegrityError ? undefined : undefinedIfNotFound(error),
  );
  const holder = parseJsonOrUndefined(lockSchema, bytes, LOCK_FORMAT);
  const stale = !holder || (holder.host === hostname() ? processGone(holder.pid) : Date.now() - Date.parse(holder.startedAt) > STALE_MS);
  if (!stale) {
    throw new ConflictError(`another aim gc is running on ${repoName} (host ${holder.host}, pid ${holder.pid}, since ${holder.startedAt})`, {
      hint: `wait for it to finish; if it was killed on another machine, delete ${LOCK_KEY} in ${backend.location}`,
    });
  }
  await backend.put(LOCK_KEY, body);
  return { tookOver: true, previousPushId: holder?.pushId, release };
}
