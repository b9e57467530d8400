// The bounds every format read back is held to. A repository is shared and may be hostile or damaged, and a size
// or count read from it drives allocations and loops: each is capped here by what it points into, or failing
// that by the most this aim ever writes, with room to spare.

const KiB = 1024;
const MiB = 1024 * KiB;

/** The chunker's sane range for a chunk's size: below it a push makes millions of chunks, above it memory runs out. */
export const MIN_CHUNK_BYTES = 1 * KiB;
export const MAX_CHUNK_BYTES = 64 * MiB;
/** The average a FastCDC mask can aim for: log2 of it, plus or minus the normalization level, fits a 32-bit word. */
export const MIN_AVG_CHUNK_BYTES = 4 * KiB;
export const MAX_AVG_CHUNK_BYTES = 16 * MiB;
/** FastCDC's normalization levels. */
export const MAX_NORMALIZATION = 3;
/** The finer-chunked head of a file (DEFAULT_CHUNKING: 8 MiB). */
export const MAX_HEAD_BYTES = 1024 * MiB;

/** A pack is ~16 MiB plus at most one chunk; anything past this cannot be a pack aim wrote. */
export const MAX_PACK_BYTES = 1024 * MiB;
/** A footer lists at most one entry per byte of its pack; ~90 bytes per entry. */
export const MAX_FOOTER_BYTES = 64 * MiB;

/** Small JSON files: a tag, aim-repo.json, a deployment record, a pull journal. */
export const MAX_SMALL_FILE_BYTES = 64 * KiB;
/** An index file names ~90 bytes per chunk: 100,000 chunks are about 9 MB. */
export const MAX_INDEX_FILE_BYTES = 512 * MiB;
/** A manifest lists every chunk of a version: a 1 TB version in 512 KiB chunks is about 180 MB. */
export const MAX_MANIFEST_BYTES = 512 * MiB;
export const MAX_MANIFEST_FILES = 1_000_000;
export const MAX_ANNOTATIONS = 1_000;
/** index.json lists every tag; install state and the stat cache every file. */
export const MAX_CATALOG_BYTES = 512 * MiB;
/** model_repos.yaml: 40,000 repositories are about 2 MB. */
export const MAX_CONFIG_BYTES = 16 * MiB;
/** YAML aliases a config may expand; a "billion laughs" file needs thousands. */
export const MAX_CONFIG_ALIASES = 100;

/** Counts that no real repository reaches (files of a version, chunks of a file). */
export const MAX_COUNT = 100_000_000;
/** A text field aim writes (a timestamp, a name, a URL). */
export const MAX_TEXT = 4096;
