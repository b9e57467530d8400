import { randomBytes } from 'node:crypto';
import * as v from 'valibot';
import type { Backend, ObjectInfo } from '../../backends/backend.js';
import { forEachConcurrently } from '../../lib/concurrently.js';
import { packId, parseJsonOrUndefined, timestamp, type Format } from '../format/schemas/parse.js';
import { getBounded } from '../store/bounded-read.js';
import { compareText } from '../../lib/compare-text.js';

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
/** Records one push reads, the newest: a folder littered with them costs each push this many reads at most. */
const MAX_RECORDS_READ = 64;
/** Keys under gc/ listed at most: a flood of them costs a bounded listing, not an endless one. */
const MAX_RECORDS_LISTED = 10_000;
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

/** The objects under `gc/` named like records (at most MAX_RECORDS_LISTED), newest first. */
async function listRecordObjects(backend: Backend): Promise<ObjectInfo[]> {
  const found: ObjectInfo[] = [];
  for await (const info of backend.list('gc/')) {
    if (RECORD_KEY.test(info.key)) found.push(info);
    if (found.length >= MAX_RECORDS_LISTED) break;
  }
  return found.sort((a, b) => (b.modified ?? 0) - (a.modified ?? 0) || compareText(a.key, b.key));
}

/**
 * Older than RECORD_LIFETIME_MS by the store's clock (the listing's time), else by the time the record claims. The
 * store's clock comes first: a record claiming a time far in the future would otherwise never expire.
 */
const isExpired = (info: ObjectInfo, startedAt: string | undefined, now: number): boolean => {
  const written = info.modified ?? (startedAt === undefined ? Number.NaN : Date.parse(startedAt));
  return !(now - written <= RECORD_LIFETIME_MS);
};

/**
 * The keys of the records a push reads: the newest MAX_RECORDS_READ that have not expired by the store's clock.
 * The newest, because a gc that matters to a push in flight is one that started during it.
 */
export async function listGcRecordKeys(backend: Backend): Promise<string[]> {
  const now = Date.now();
  const live = (await listRecordObjects(backend)).filter((info) => info.modified === undefined || !isExpired(info, undefined, now));
  return live.slice(0, MAX_RECORDS_READ).map((info) => info.key);
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

/**
 * Deletes the records older than RECORD_LIFETIME_MS, and those that do not read once they are that old too (no push
 * trusts them; one may be a newer aim's record, so it stays as long as any record).
 */
export async function deleteExpiredGcRecords(backend: Backend): Promise<void> {
  const now = Date.now();
  for (const info of await listRecordObjects(backend)) {
    if (info.modified !== undefined && !isExpired(info, undefined, now)) continue;
    const bytes = await getBounded(backend, info.key, GC_RECORD_FORMAT, info.key).catch(() => undefined);
    const record = parseJsonOrUndefined(recordSchema, bytes, GC_RECORD_FORMAT);
    if (isExpired(info, record?.startedAt, now)) await backend.delete(info.key);
  }
}
