import * as v from 'valibot';
import { digestOf, type Digest } from './digest.js';
import { MAX_ANNOTATIONS, MAX_CHUNK_BYTES, MAX_MANIFEST_BYTES, MAX_MANIFEST_FILES } from './schemas/limits.js';
import { byteSize, count, describeValue, digest as digestSchema, parseJsonText, parseValue, type Format } from './schemas/parse.js';
import { isPlainManifest } from './manifest-plain.js';
import { unsafePathReason } from './paths.js';

export { unsafePathReason };

// A manifest is one immutable version: its files in order, each with the chunks that rebuild it. Its digest is
// BLAKE3 of the exact bytes stored, so it holds no timestamps: the same content always makes the same manifest
// (pushing it again is a no-op) and when it was pushed lives in the tag.

export const MANIFEST_MEDIA_TYPE = 'application/vnd.aim.manifest.v1+json';

export interface ChunkRef {
  digest: Digest;
  size: number;
}

export interface ManifestFile {
  path: string;
  size: number;
  /** Unix permission bits (e.g. 0o644), kept so executables stay executable. */
  mode: number;
  /** BLAKE3 of the whole file: what `b3sum` prints for it. */
  digest: Digest;
  chunks: ChunkRef[];
}

export interface Manifest {
  schemaVersion: 1;
  mediaType: typeof MANIFEST_MEDIA_TYPE;
  files: ManifestFile[];
  annotations: Record<string, string>;
}

export function manifestSize(manifest: Manifest): number {
  return manifest.files.reduce((total, file) => total + file.size, 0);
}

/** Compact JSON: a manifest lists every chunk, and indentation would add a fifth to its size. */
export function encodeManifest(manifest: Manifest): Buffer {
  return Buffer.from(`${JSON.stringify(manifest)}\n`);
}

export async function manifestDigest(bytes: Uint8Array): Promise<Digest> {
  return digestOf(bytes);
}

export const MANIFEST_FORMAT: Format = {
  what: 'manifest',
  maxBytes: MAX_MANIFEST_BYTES,
  hint: 'the repository holds a damaged or hostile manifest; push the version again from a good copy',
};

const chunkRefSchema = v.object({ digest: digestSchema, size: byteSize(1, MAX_CHUNK_BYTES) });

// Keys in the order encodeManifest writes them, so a parsed manifest encodes to the same bytes.
const fileSchema = v.pipe(
  v.object({
    path: v.pipe(
      v.string(),
      v.check((path) => unsafePathReason(path) === undefined, (issue) => unsafePathReason(issue.input as string) ?? 'is unsafe'),
    ),
    size: byteSize(),
    mode: count(0o7777),
    digest: digestSchema,
    // Every chunk holds at least a byte, so a file has no more chunks than bytes.
    chunks: v.array(chunkRefSchema),
  }),
  v.check((file) => file.chunks.reduce((sum, chunk) => sum + chunk.size, 0) === file.size, 'chunk sizes do not add up to the file size'),
);

/** The schema every manifest read back must pass (exported for the test that holds manifest-plain.ts to it). */
export const manifestSchema = v.pipe(
  v.object({
    schemaVersion: v.literal(1),
    mediaType: v.literal(MANIFEST_MEDIA_TYPE),
    files: v.pipe(v.array(fileSchema), v.maxLength(MAX_MANIFEST_FILES, `lists more than ${MAX_MANIFEST_FILES} files`)),
    annotations: v.pipe(v.record(v.string(), v.string()), v.maxEntries(MAX_ANNOTATIONS, `has more than ${MAX_ANNOTATIONS} annotations`)),
  }),
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    for (const problem of layoutProblems(dataset.value.files.map((file) => file.path))) addIssue({ message: problem });
  }),
);

/** Parses and validates manifest bytes; `where` names the manifest in the one error that lists its problems. */
export function parseManifest(bytes: Uint8Array, where: string): Manifest {
  const value = parseJsonText(bytes, MANIFEST_FORMAT, where);
  // A manifest as push wrote it is taken as it is (manifest-plain.ts); the schema checks any other and names its faults.
  if (isPlainManifest(value, MANIFEST_MEDIA_TYPE) && layoutProblems((value as Manifest).files.map((file) => file.path)).length === 0) return value as Manifest;
  return parseValue(manifestSchema, value, MANIFEST_FORMAT, where) as Manifest;
}

/** Paths that cannot all be written: duplicates, and a file that is also a parent folder of another path. */
function layoutProblems(paths: string[]): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const path of paths) {
    if (seen.has(path)) problems.push(`duplicate path ${describeValue(path)}`);
    seen.add(path);
  }
  for (const path of seen) {
    for (let slash = path.indexOf('/'); slash >= 0; slash = path.indexOf('/', slash + 1)) {
      const parent = path.slice(0, slash);
      if (seen.has(parent)) problems.push(`path ${describeValue(path)} is inside file ${describeValue(parent)}`);
    }
  }
  return problems;
}
