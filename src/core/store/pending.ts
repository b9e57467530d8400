import { randomBytes } from 'node:crypto';
import * as v from 'valibot';
import type { Backend } from '../../backends/backend.js';
import { parseJsonOrUndefined, timestamp, type Format } from '../format/schemas/parse.js';
import { getBounded } from './bounded-read.js';
import { readIntactPack, type PackEntry } from './packs.js';

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
  for await (const { key } of backend.list('pending/')) {
    const id = PENDING_KEY.exec(key)?.[1];
    if (!id || id === ownId) continue;
    const bytes = await getBounded(backend, key, PENDING_FORMAT, `${key} in ${backend.location}`).catch(() => undefined);
    const record = parseJsonOrUndefined(pendingSchema, bytes, PENDING_FORMAT);
    if (record) found.push({ id, startedAt: record.startedAt });
  }
  return found.sort((a, b) => a.startedAt.localeCompare(b.startedAt)).slice(0, MAX_ADOPTED_PUSHES);
}

/** What a push takes back from killed (or still running) ones: their packs, and their ids to clear once indexed. */
export interface AdoptedPacks {
  packs: Map<string, PackEntry[]>;
  /** Pushes whose packs were taken back, and those that stored none for an hour (killed before their first pack). */
  pushIds: string[];
}

/** The packs of every pending push but `ownId`, each read back from its footer (packs.ts, readIntactPack). */
export async function adoptPendingPacks(backend: Backend, ownId: string): Promise<AdoptedPacks> {
  const packs = new Map<string, PackEntry[]>();
  const pushIds: string[] = [];
  for (const { id, startedAt } of await pendingPushes(backend, ownId).catch(() => [])) {
    // Best effort: a listing that fails only costs the chunks it would have brought back.
    const adopted = await adoptPacksOf(backend, id, packs).catch(() => 0);
    if (adopted > 0 || Date.now() - Date.parse(startedAt) > ABANDONED_MS) pushIds.push(id);
  }
  return { packs, pushIds };
}

/** Adds the packs of push `pushId` that read back to `into`; returns how many. */
async function adoptPacksOf(backend: Backend, pushId: string, into: Map<string, PackEntry[]>): Promise<number> {
  let listed = 0;
  let adopted = 0;
  const keyPattern = new RegExp(`^packs/${pushId.slice(0, 2)}/(${pushId}[0-9a-f]{16})$`);
  for await (const { key } of backend.list(`packs/${pushId.slice(0, 2)}/${pushId}`)) {
    const pack = keyPattern.exec(key)?.[1];
    if (!pack || ++listed > MAX_PACKS_PER_PUSH) continue;
    const entries = await readIntactPack(backend, pack);
    if (entries && entries.length > 0) {
      into.set(pack, entries);
      adopted++;
    }
  }
  return adopted;
}
