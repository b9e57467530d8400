import { randomBytes } from 'node:crypto';
import * as v from 'valibot';
import type { Backend } from '../../backends/backend.js';
import { forEachConcurrently } from '../../lib/concurrently.js';
import { packId, parseJsonOrUndefined, timestamp, type Format } from '../format/schemas/parse.js';
import { getBounded } from '../store/bounded-read.js';

// How a push in flight learns that gc is taking packs away. Before it deletes or repacks anything, gc writes a
// record naming every pack it may remove:
//
//   gc/<16 hex>.json   {"format": 1, "startedAt": <ISO time>, "packs": [<pack id>, ...]}
//
// A push lists these records when it starts (and never dedupes against a pack they name: it stores those chunks
// again) and once more after its tag is written. A record that appeared in between may name a pack the push relied
// on; then the push takes back its location map and runs again, storing what is gone (push.ts). A gc that started
// after that second listing saw the push's tag when it listed its roots, since it lists them after writing its
// record. Records stay for RECORD_LIFETIME_MS so that a push running that long still sees them.

export const GC_RECORD_FORMAT: Format = {
  what: 'gc record',
  maxBytes: 64 * 1024 * 1024,
  hint: 'delete that file: it only tells pushes running during a gc which packs to avoid',
};

const recordSchema = v.object({ format: v.literal(1), startedAt: timestamp, packs: v.pipe(v.array(packId), v.maxLength(2_000_000, 'names too many packs')) });
const RECORD_KEY = /^gc\/([0-9a-f]{16})\.json$/;
/** Records one push reads: a folder littered with them costs each push this many reads at most. */
const MAX_RECORDS_READ = 64;
/** How long a record stays: longer than any push runs. */
export const RECORD_LIFETIME_MS = 7 * 24 * 60 * 60 * 1000;

export interface GcRecord {
  key: string;
  startedAt: string;
  packs: ReadonlySet<string>;
}

/** Writes the record of a gc about to remove `packs`; returns its key. */
export async function writeGcRecord(backend: Backend, packs: Iterable<string>): Promise<string> {
  const key = `gc/${randomBytes(8).toString('hex')}.json`;
  const body = { format: 1, startedAt: new Date().toISOString(), packs: [...packs].sort() };
  await backend.putIfAbsent(key, Buffer.from(`${JSON.stringify(body)}\n`));
  return key;
}

/** The keys under `gc/` that name records, at most MAX_RECORDS_READ of them. */
export async function listGcRecordKeys(backend: Backend): Promise<string[]> {
  const keys: string[] = [];
  for await (const { key } of backend.list('gc/')) {
    if (RECORD_KEY.test(key)) keys.push(key);
    if (keys.length >= MAX_RECORDS_READ) break;
  }
  return keys.sort();
}

/**
 * The records whose keys are not in `known`. One that does not read (garbage, a link, too big) is passed over: it
 * can only be a record no gc wrote, or one whose gc has not finished writing it, and a gc's record is a single write.
 */
export async function readGcRecords(backend: Backend, known: ReadonlySet<string> = new Set()): Promise<GcRecord[]> {
  const records: GcRecord[] = [];
  const keys = (await listGcRecordKeys(backend)).filter((key) => !known.has(key));
  await forEachConcurrently(keys, 4, async (key) => {
    const bytes = await getBounded(backend, key, GC_RECORD_FORMAT, `${key} in ${backend.location}`).catch(() => undefined);
    const record = parseJsonOrUndefined(recordSchema, bytes, GC_RECORD_FORMAT);
    if (record) records.push({ key, startedAt: record.startedAt, packs: new Set(record.packs) });
  });
  return records;
}

/** Every pack the records name. */
export function condemnedPacks(records: GcRecord[]): Set<string> {
  const packs = new Set<string>();
  for (const record of records) for (const pack of record.packs) packs.add(pack);
  return packs;
}

/** Deletes the records older than RECORD_LIFETIME_MS (and those that do not read: no push trusts them). */
export async function deleteExpiredGcRecords(backend: Backend): Promise<void> {
  const readable = new Map((await readGcRecords(backend)).map((record) => [record.key, record]));
  for (const key of await listGcRecordKeys(backend)) {
    const record = readable.get(key);
    if (!record || Date.now() - Date.parse(record.startedAt) > RECORD_LIFETIME_MS) await backend.delete(key);
  }
}
