import { isDigest } from './digest.js';
import { MAX_ANNOTATIONS, MAX_CHUNK_BYTES, MAX_MANIFEST_FILES } from './schemas/limits.js';
import { unsafePathReason } from './paths.js';
import { DROPPED_KEYS, hasKeys, isObject, isWhole } from './plain-json.js';

// A manifest exactly as push writes it, recognised without the schema library. Checking a manifest of 10,000 files
// with the schema (manifest.ts) took about 0.15 s of a 1.3 s pull of 10,000 tiny files; this check takes a tenth of
// that (docs/benchmarks.md, "Ten thousand tiny files pulled on a worker thread"). It accepts only what the schema
// accepts and returns unchanged: the same keys in the same order, nothing the schema would drop. Anything else, a
// hostile or damaged manifest among it, goes to the schema, which names what is wrong.

const MANIFEST_KEYS = ['schemaVersion', 'mediaType', 'files', 'annotations'] as const;
const FILE_KEYS = ['path', 'size', 'mode', 'digest', 'chunks'] as const;
const CHUNK_KEYS = ['digest', 'size'] as const;

/**
 * True when `value` (parsed JSON) is a manifest of `mediaType` the schema accepts as it is, file layout aside (the
 * caller checks duplicate and nested paths, as the schema does).
 */
export function isPlainManifest(value: unknown, mediaType: string): boolean {
  if (!isObject(value) || !hasKeys(value, MANIFEST_KEYS) || value.schemaVersion !== 1 || value.mediaType !== mediaType) return false;
  const { files, annotations } = value;
  if (!Array.isArray(files) || files.length > MAX_MANIFEST_FILES || !files.every(isPlainFile)) return false;
  if (!isObject(annotations)) return false;
  let count = 0;
  for (const key in annotations) {
    if (DROPPED_KEYS.has(key) || typeof annotations[key] !== 'string' || ++count > MAX_ANNOTATIONS) return false;
  }
  return true;
}

/** One file of a manifest as push writes it (the stat cache holds the same, stat-entry-plain.ts). */
export function isPlainFile(file: unknown): boolean {
  if (!isObject(file) || !hasKeys(file, FILE_KEYS)) return false;
  const { path, size, mode, digest, chunks } = file;
  if (!isWhole(size, 0, Number.MAX_SAFE_INTEGER) || !isWhole(mode, 0, 0o7777) || !isDigest(digest) || !Array.isArray(chunks)) return false;
  let total = 0;
  // Indexed: this runs once a file of the manifest, before the JIT has optimised it.
  for (let index = 0; index < chunks.length; index++) {
    const chunk: unknown = chunks[index];
    // A file of one chunk repeats its digest as the chunk's: equal to one checked, it needs no pattern test of its own.
    if (!isObject(chunk) || !hasKeys(chunk, CHUNK_KEYS) || !(chunk.digest === digest || isDigest(chunk.digest)) || !isWhole(chunk.size, 1, MAX_CHUNK_BYTES)) return false;
    total += chunk.size;
  }
  return total === size && unsafePathReason(path) === undefined;
}
