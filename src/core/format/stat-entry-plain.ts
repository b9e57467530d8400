import { isDigest } from './digest.js';
import { isPlainFile } from './manifest-plain.js';
import { hasKeys, isObject } from './plain-json.js';
import { MAX_TEXT } from './schemas/limits.js';

// A stat cache entry exactly as push writes it, recognised without the schema library (stat-cache.ts checks an entry
// when a push first looks it up): the entry of a 1 GiB file lists ~1,700 chunks, and the schema's check of them was
// ~11 ms of a 0.3 s unchanged re-push (~90 ms for 8 GiB). It accepts only what statCacheEntrySchema accepts unchanged;
// anything else (an entry without a ctime among it) goes to the schema, which names the fault.

const KEYS = ['size', 'mtimeMs', 'ctimeMs', 'ino', 'chunking', 'file'] as const;
/** The keys of an entry since its push committed: the manifest, and the removal mark when the repository had one. */
const COMMITTED_KEYS = [...KEYS, 'manifest'] as const;
const MARKED_KEYS = [...COMMITTED_KEYS, 'removals'] as const;

const isStatNumber = (value: unknown): boolean => typeof value === 'number' && Number.isFinite(value) && value >= 0;

/** True when `value` (parsed JSON) is a stat cache entry the schema accepts as it is. */
export function isPlainStatEntry(value: unknown): boolean {
  if (!isObject(value) || !(hasKeys(value, KEYS) || hasKeys(value, COMMITTED_KEYS) || hasKeys(value, MARKED_KEYS))) return false;
  const { size, mtimeMs, ctimeMs, ino, chunking, file, manifest, removals } = value;
  if (!isStatNumber(mtimeMs) || !isStatNumber(ctimeMs) || !isStatNumber(ino) || typeof chunking !== 'string') return false;
  if (manifest !== undefined && !isDigest(manifest)) return false;
  if (removals !== undefined && (typeof removals !== 'string' || removals.length > MAX_TEXT)) return false;
  // isPlainFile checks that the chunks add up to the file's size, which must be the size the entry was recorded for.
  return isPlainFile(file) && (file as { size: unknown }).size === size;
}
