import { randomBytes } from 'node:crypto';
import * as v from 'valibot';
import type { Backend } from '../../backends/backend.js';
import { parseJsonOrUndefined, timestamp, type Format } from '../format/schemas/parse.js';
import { getBounded } from './bounded-read.js';
import { readIntactPack, type PackEntry } from './packs.js';
import { compareText } from '../../lib/compare-text.js';

// Resume after kill -9 without listing every pack. A push that stores chunks gets a random 16-hex push id, names
// its packs `<push id><16 random hex>`, and before its first pack writes `pending/<push id>`. A push that ends
// deletes its record once its index files name its packs; a killed one leaves it. The next push lists `pending/`
// (only unfinished pushes), lists the packs named after each (a prefix listing), takes them back from their footers
// (packs.ts, readIntactPack), names them in its own index and then deletes the records it took them from.
//
//   pending/<push id>   {"startedAt": <ISO time>}

export const PENDING_FORMAT: Format = {
  what: 'pending push record',
  maxBytes: 1024,
  hint: 'delete that file: the next push then only misses the packs of the push it named',
};

const pendingSchema = v.object({ startedAt: timestamp });
const PUSH_ID = /^[0-9a-f]{16}$/;
const PENDING_KEY = /^pending\/([0-9a-f]{16})$/;
/** Pending pushes taken back by one push: a repository littered with records costs each push a bounded amount. */
const MAX_ADOPTED_PUSHES = 64;
/** A record with no pack after this long is a push killed before its first pack, not one about to store it. */
const ABANDONED_MS = 60 * 60 * 1000;
/** Packs taken back from one pending push: more than a 1 TiB push writes. */
const MAX_PACKS_PER_PUSH = 100_000;
/**
 * Names under `pending/` one push looks at: a folder littered with millions of records (or junk names) costs each
 * push this many reads, not one per record. Those past it wait for a later push, once these are cleared.
 */
export const MAX_PENDING_RECORDS_READ = 4 * MAX_ADOPTED_PUSHES;
/**
 * Chunks one push takes back from all the footers it reads (a killed push of 1 TiB in 1 MiB chunks): each is held in
 * memory and named in this push's index, so planted footers of 64 MiB each cannot make a push run out of memory.
 */
export const MAX_ADOPTED_CHUNKS = 1_000_000;

export const newPushId = (): string => randomBytes(8).toString('hex');
export const pendingKey = (pushId: string): string => `pending/${pushId}`;
export const isPushId = (value: string): boolean => PUSH_ID.test(value);

/** Marks `pushId` as under way, before its first pack is stored. */
export async function writePendingRecord(backend: Backend, pushId: string): Promise<void> {
  await backend.putIfAbsent(pendingKey(pushId), Buffer.from(`${JSON.stringify({ startedAt: new Date().toISOString() })}\n`));
}

/** Deletes the records of pushes whose packs an index file now names. */
export async function deletePendingRecords(backend: Backend, pushIds: Iterable<string>): Promise<void> {
  await Promise.all([...pushIds].map((id) => backend.delete(pendingKey(id))));
}

/**
 * The ids of unfinished pushes other than `ownId`, oldest first. A record that is not one (an odd name, a body that
 * does not read, a link) is passed over: it costs only the packs it would have brought back.
 */
async function pendingPushes(backend: Backend, ownId: string): Promise<Array<{ id: string; startedAt: string }>> {
  const found: Array<{ id: string; startedAt: string }> = [];
  let listed = 0;
  for await (const { key } of backend.list('pending/')) {
    if (++listed > MAX_PENDING_RECORDS_READ) break;
    const id = PENDING_KEY.exec(key)?.[1];
    if (!id || id === ownId) continue;
    const bytes = await getBounded(backend, key, PENDING_FORMAT, `${key} in ${backend.location}`).catch(() => undefined);
    const record = parseJsonOrUndefined(pendingSchema, bytes, PENDING_FORMAT);
    if (record) found.push({ id, startedAt: record.startedAt });
  }
  return found.sort((a, b) => compareText(a.startedAt, b.startedAt)).slice(0, MAX_ADOPTED_PUSHES);
}

/** What a push takes back from killed (or still running) ones: their packs, and their ids to clear once indexed. */
export interface AdoptedPacks {
  packs: Map<string, PackEntry[]>;
  /** Pushes whose packs were taken back, and those that stored none for an hour (killed before their first pack). */
  pushIds: string[];
}

/** The packs of every pending push but `ownId`, each read back from its footer (packs.ts, readIntactPack). */
export async function adoptPendingPacks(backend: Backend, ownId: string, maxChunks = MAX_ADOPTED_CHUNKS): Promise<AdoptedPacks> {
  const packs = new Map<string, PackEntry[]>();
  const pushIds: string[] = [];
  const budget = { chunks: maxChunks };
  for (const { id, startedAt } of await pendingPushes(backend, ownId).catch(() => [])) {
    // Best effort: a listing that fails only costs the chunks it would have brought back.
    const adopted = await adoptPacksOf(backend, id, packs, budget).catch(() => 0);
    if (adopted > 0 || Date.now() - Date.parse(startedAt) > ABANDONED_MS) pushIds.push(id);
  }
  return { packs, pushIds };
}

/** Adds the packs of push `pushId` that read back to `into`, while `budget` lasts; returns how many. */
async function adoptPacksOf(backend: Backend, pushId: string, into: Map<string, PackEntry[]>, budget: { chunks: number }): Promise<number> {
  let listed = 0;
  let adopted = 0;
  const keyPattern = new RegExp(`^packs/${pushId.slice(0, 2)}/(${pushId}[0-9a-f]{16})$`);
  for await (const { key } of backend.list(`packs/${pushId.slice(0, 2)}/${pushId}`)) {
    if (++listed > MAX_PACKS_PER_PUSH || budget.chunks <= 0) break;
    const pack = keyPattern.exec(key)?.[1];
    if (!pack) continue;
    const entries = await readIntactPack(backend, pack);
    if (entries && entries.length > 0 && entries.length <= budget.chunks) {
      budget.chunks -= entries.length;
      into.set(pack, entries);
      adopted++;
    }
  }
  return adopted;
}
