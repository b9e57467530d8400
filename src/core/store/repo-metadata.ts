import { DEFAULT_CHUNKING, type ChunkingParams } from '../chunking/chunker.js';
import { ConfigError } from '../../lib/errors.js';
import { corrupt, describeValue, parseJsonText, parseValue } from '../format/schemas/parse.js';
import { REPO_METADATA_FORMAT, repoMetadataSchema } from '../format/schemas/store.js';
import type { Requirements } from '../format/schemas/requirements.js';

// aim-repo.json: the repository's format and chunking, read before every push. What a newer aim wrote asks for an
// upgrade; what no aim writes (damage, or chunk sizes that would make a push run for hours) is corrupt.

/** Format 1 keeps each chunk as an object of its own; format 2 gathers new chunks into packs (packs.ts). */
export const LOOSE_FORMAT = 1;
export const PACKED_FORMAT = 2;
const KNOWN_FORMATS = new Set([LOOSE_FORMAT, PACKED_FORMAT]);

export interface RepoMetadata {
  format: number;
  hash: 'blake3';
  chunking: ChunkingParams;
  createdAt: string;
  /** What a push must bring (contribution rules); absent: anything goes. */
  requires?: Requirements;
}

/** The chunking settings this aim knows: those of its default. */
const CHUNKING_KEYS = new Set(Object.keys(DEFAULT_CHUNKING));
const HEAD_KEYS = new Set(Object.keys(DEFAULT_CHUNKING.head!));

/** aim-repo.json's bytes; `repository` names it in upgrade messages, `where` names the file. */
export function parseRepoMetadata(bytes: Uint8Array, repository: string, where: string): RepoMetadata {
  const raw = parseJsonText(bytes, REPO_METADATA_FORMAT, where) as { format?: unknown; chunking?: Partial<Record<string, unknown>> } | null;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw corrupt(REPO_METADATA_FORMAT, where, 'not an object');
  if (!KNOWN_FORMATS.has(raw.format as number)) {
    throw new ConfigError(`${repository} has format ${describeValue(raw.format)}; this aim reads ${[...KNOWN_FORMATS].join(' and ')}`, { hint: 'upgrade aim' });
  }
  // Chunking settings this aim does not know (a newer aim's) change the boundaries: cutting without it would still make
  // valid versions, but would silently stop deduplicating against what that aim pushed.
  const chunking = typeof raw.chunking === 'object' && raw.chunking !== null ? raw.chunking : {};
  const head = typeof chunking.head === 'object' && chunking.head !== null ? chunking.head : {};
  const { masks, normalization } = chunking;
  const unknown = [
    ...Object.keys(chunking).filter((key) => !CHUNKING_KEYS.has(key)),
    ...Object.keys(head).filter((key) => !HEAD_KEYS.has(key)).map((key) => `head.${key}`),
    ...(masks === undefined || masks === 'spread' || masks === 'top' ? [] : [`masks: ${describeValue(masks)}`]),
    ...(normalization === undefined || [0, 1, 2, 3].includes(normalization as number) ? [] : [`normalization: ${describeValue(normalization)}`]),
  ];
  if (unknown.length > 0) {
    throw new ConfigError(`${repository} uses chunking settings this aim does not know: ${unknown.join(', ')}`, { hint: 'upgrade aim' });
  }
  return parseValue(repoMetadataSchema, raw, REPO_METADATA_FORMAT, where);
}
