import { isDigest } from './digest.js';
import { DROPPED_KEYS, hasKeys, isObject, isWhole } from './plain-json.js';
import { isPackId } from './schemas/parse.js';
import { MAX_CHUNK_BYTES, MAX_PACK_BYTES } from './schemas/limits.js';

// A location map exactly as push writes it, recognised without the schema library (store/locations.ts reads one
// before every pull): its schema's parse of a 10,000-chunk map was most of the ~0.1 s the map cost a pull of 10,000
// tiny files (docs/benchmarks.md, "Ten thousand tiny files pulled on a worker thread"). It accepts only what the schema
// accepts unchanged; anything else goes to the schema, which names the fault.

const MAP_KEYS = ['format', 'manifest', 'packs'] as const;

/**
 * True when `value` (parsed JSON) is a location map the schema accepts as it is. `digests`: digests already checked
 * (the version's chunks), whose entries need no pattern test: a map names every chunk of the version.
 */
export function isPlainLocationMap(value: unknown, digests?: ReadonlyMap<string, unknown>): boolean {
  if (!isObject(value) || !hasKeys(value, MAP_KEYS) || value.format !== 1 || !isDigest(value.manifest) || !isObject(value.packs)) return false;
  for (const pack in value.packs) {
    const entries = value.packs[pack];
    if (DROPPED_KEYS.has(pack) || !isPackId(pack) || !Array.isArray(entries)) return false;
    // Indexed, not destructured: one step per chunk of the version, run once before the JIT has optimised it.
    for (let index = 0; index < entries.length; index++) {
      const entry: unknown = entries[index];
      if (!Array.isArray(entry) || entry.length !== 3) return false;
      const digest: unknown = entry[0];
      const offset: unknown = entry[1];
      const size: unknown = entry[2];
      if (!(digests?.has(digest as string) || isDigest(digest)) || !isWhole(offset, 0, MAX_PACK_BYTES) || !isWhole(size, 1, MAX_CHUNK_BYTES) || offset + size > MAX_PACK_BYTES) return false;
    }
  }
  return true;
}
