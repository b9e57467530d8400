import { randomUUID } from 'node:crypto';
import type { Backend } from '../../backends/backend.js';
import { StorageError } from '../../lib/errors.js';
import { undefinedIfNotFound } from '../../lib/not-found.js';
import { pollUntil } from '../../lib/poll.js';

// index.json is read, changed and written back by every push. Where the backend cannot compare-and-swap (a folder,
// also on NFS), writers take turns through a lock file created with put-if-absent (link(2), atomic on NFS too). A
// writer killed while holding it leaves it behind: a lock older than STALE_MS is taken for abandoned, as no
// update of index.json takes that long.

const LOCK_KEY = 'index.json.lock';
const STALE_MS = 10_000;
const WAIT_MS = 120_000;

async function tryLock(backend: Backend, token: string): Promise<boolean> {
  // A lock released just as we found it taken can surface as its key missing: simply another turn.
  const created = await backend.putIfAbsent(LOCK_KEY, Buffer.from(`${new Date().toISOString()} ${token}\n`)).catch((error: unknown) => Boolean(undefinedIfNotFound(error)));
  if (created) return true;
  const held = (await backend.get(LOCK_KEY, 1024).catch(undefinedIfNotFound))?.toString('utf8');
  if (held === undefined) return false; // released meanwhile: try again
  const since = Date.parse(held.split(' ')[0] ?? '');
  // A lock that does not read as ours is damage, handled as an abandoned one.
  if (Number.isNaN(since) || Date.now() - since > STALE_MS) {
    const still = (await backend.get(LOCK_KEY, 1024).catch(undefinedIfNotFound))?.toString('utf8');
    if (still === held) await backend.delete(LOCK_KEY);
  }
  return false;
}

/** Runs `update` while holding the index lock. */
export async function withIndexLock<T>(backend: Backend, update: () => Promise<T>): Promise<T> {
  const token = randomUUID();
  await pollUntil(async () => ((await tryLock(backend, token)) ? { done: true, value: undefined } : { done: false }), {
    intervalMs: 10 + Math.floor(Math.random() * 20),
    timeoutMs: WAIT_MS,
    onTimeout: () =>
      new StorageError(`${LOCK_KEY} in ${backend.location} stayed locked for ${WAIT_MS / 1000} s`, {
        hint: `if no push is running, delete ${LOCK_KEY} and run \`aim repo reindex\``,
      }),
  });
  try {
    return await update();
  } finally {
    const held = (await backend.get(LOCK_KEY, 1024).catch(undefinedIfNotFound))?.toString('utf8');
    if (held?.includes(token)) await backend.delete(LOCK_KEY);
  }
}
