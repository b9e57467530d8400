import * as v from 'valibot';
import {
  MAX_AVG_CHUNK_BYTES,
  MAX_CHUNK_BYTES,
  MAX_FOOTER_BYTES,
  MAX_HEAD_BYTES,
  MAX_INDEX_FILE_BYTES,
  MAX_NORMALIZATION,
  MAX_PACK_BYTES,
  MAX_SMALL_FILE_BYTES,
  MIN_AVG_CHUNK_BYTES,
  MIN_CHUNK_BYTES,
} from './limits.js';
import { ConfigError } from '../../../lib/errors.js';
import { requirementsSchema } from './requirements.js';
import type { Digest } from '../digest.js';
import { byteSize, count, describeValue, digest, packId, parseJson, parseJsonText, parseValue, text, timestamp, type Format } from './parse.js';

// The formats of a repository's own keys (DESIGN.md, "Layout of a repository"): tags, aim-repo.json, index files,
// pack footers and index.json. The manifest's schema sits with the manifest (format/manifest.ts).

const REPAIR_HINT = 'run `aim verify` on the repository; push the version again from a good copy to repair it';

export const TAG_FORMAT: Format = {
  what: 'tag',
  maxBytes: MAX_SMALL_FILE_BYTES,
  hint: 'push the version again to rewrite the tag, or delete that tag file (the other models are not affected)',
};
export const REPO_METADATA_FORMAT: Format = {
  what: 'repository settings',
  maxBytes: MAX_SMALL_FILE_BYTES,
  hint: 'restore aim-repo.json from a backup of the repository; aim cannot guess its chunking',
};
export const INDEX_FILE_FORMAT: Format = {
  what: 'index file',
  maxBytes: MAX_INDEX_FILE_BYTES,
  hint: 'delete that file (versions with a location map do not need it), then push again any version `aim verify` finds chunks missing from',
};
export const LOCATION_MAP_FORMAT: Format = {
  what: 'location map',
  maxBytes: MAX_INDEX_FILE_BYTES,
  hint: 'delete that file (pulls of the version then read the whole index), or run `aim repo upgrade` to write it again',
};
export const PACK_FOOTER_FORMAT: Format = { what: 'pack footer', maxBytes: MAX_FOOTER_BYTES, hint: REPAIR_HINT };

/** models/<model>/tags/<tag>: {digest, pushedAt, size, files}; keys a newer aim adds are dropped. */
export const tagRecordSchema = v.object({
  digest,
  pushedAt: timestamp,
  size: byteSize(),
  files: count(),
});

const chunkSizes = {
  minSize: byteSize(MIN_CHUNK_BYTES, MAX_CHUNK_BYTES),
  avgSize: byteSize(MIN_AVG_CHUNK_BYTES, MAX_AVG_CHUNK_BYTES),
  maxSize: byteSize(MIN_CHUNK_BYTES, MAX_CHUNK_BYTES),
};
const rising = (sizes: { minSize: number; avgSize: number; maxSize: number }): boolean =>
  sizes.minSize <= sizes.avgSize && sizes.avgSize <= sizes.maxSize;
const RISING = 'chunk sizes must rise: minSize <= avgSize <= maxSize';

/** aim-repo.json's chunking, held to the ranges where the chunker cuts in reasonable time and memory. */
export const chunkingSchema = v.pipe(
  v.object({
    algorithm: v.optional(v.literal('fastcdc-gear32'), 'fastcdc-gear32'),
    ...chunkSizes,
    seed: count(0xffffffff),
    masks: v.optional(v.picklist(['spread', 'top'])),
    normalization: v.optional(count(MAX_NORMALIZATION)),
    head: v.optional(
      v.pipe(v.object({ size: byteSize(0, MAX_HEAD_BYTES), ...chunkSizes }), v.check((head) => rising(head), `head: ${RISING}`)),
    ),
  }),
  v.check((params) => rising(params), RISING),
  // Readers keep a maximum chunk of the file body ahead of every cut, which must also cover a head chunk.
  v.check((params) => !params.head || params.head.maxSize <= params.maxSize, 'head.maxSize must not exceed maxSize'),
);

export const repoMetadataSchema = v.object({
  format: count(),
  hash: v.literal('blake3'),
  chunking: chunkingSchema,
  createdAt: v.optional(text(64), ''),
  requires: v.optional(requirementsSchema),
});

/** [digest, offset, size]: a chunk's bytes, inside a pack of at most `packBytes`. */
export function packEntrySchema(packBytes: number) {
  return v.pipe(
    v.strictTuple([digest, byteSize(0, packBytes), byteSize(1, MAX_CHUNK_BYTES)]),
    v.check(([, offset, size]) => offset + size <= packBytes, `lies past the end of its pack (${packBytes} bytes at most)`),
  );
}

const indexEntry = packEntrySchema(MAX_PACK_BYTES);

/** index/<id>.json: {format: 1, packs: {<pack id>: [[digest, offset, size], ...]}}. */
export const indexFileSchema = v.object({
  format: v.literal(1),
  packs: v.record(packId, v.array(indexEntry)),
});

/** locations/<hh>/<manifest hex>.json: an index file limited to one version's chunks, naming that version. */
export const locationMapSchema = v.object({
  format: v.literal(1),
  manifest: digest,
  packs: v.record(packId, v.array(indexEntry)),
});

/** The footer of a pack whose chunk bytes end at `limit`: at most one entry per byte, each inside them. */
export function packFooterSchema(limit: number) {
  return v.object({ chunks: v.pipe(v.array(packEntrySchema(limit)), v.maxLength(limit, `lists more chunks than its pack has bytes`)) });
}

/** A tag's bytes as its record; `where` names the tag file in the error. */
export function parseTag(bytes: Uint8Array, where: string): v.InferOutput<typeof tagRecordSchema> {
  return parseJson(tagRecordSchema, bytes, TAG_FORMAT, where);
}

export type StoredEntry = readonly [digest: Digest, offset: number, size: number];

/** An index file's packs, each with its [digest, offset, size] entries; a format other than 1 asks for an upgrade. */
export function parseIndexFile(bytes: Uint8Array, where: string): Record<string, StoredEntry[]> {
  const raw = parseJsonText(bytes, INDEX_FILE_FORMAT, where) as { format?: unknown } | null;
  if (typeof raw === 'object' && raw !== null && !Array.isArray(raw) && raw.format !== 1) {
    throw new ConfigError(`${where} has format ${describeValue(raw.format)}; this aim reads 1`, { hint: 'upgrade aim' });
  }
  return parseValue(indexFileSchema, raw, INDEX_FILE_FORMAT, where).packs;
}

/** A pack footer's entries, each inside the `limit` bytes of chunks before the footer. */
export function parsePackFooter(bytes: Uint8Array, limit: number, where: string): StoredEntry[] {
  return parseJson(packFooterSchema(limit), bytes, PACK_FOOTER_FORMAT, where).chunks;
}
