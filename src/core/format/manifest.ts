import { digestOf, isDigest, type Digest } from './digest.js';
import { IntegrityError } from '../../lib/errors.js';
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

/** Parses and validates manifest bytes; every problem is collected before one error is thrown. */
export function parseManifest(bytes: Uint8Array, where: string): Manifest {
  let data: unknown;
  try {
    data = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new IntegrityError(`manifest ${where} is not valid JSON`, { hint: 'run `aim verify` on the repository' });
  }
  const problems = manifestProblems(data);
  if (problems.length > 0) {
    throw new IntegrityError(`manifest ${where} is invalid: ${problems.slice(0, 5).join('; ')}`, {
      hint: 'the repository holds a damaged or hostile manifest; push the version again from a good copy',
    });
  }
  return data as Manifest;
}

function isSize(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

function manifestProblems(data: unknown): string[] {
  const problems: string[] = [];
  const manifest = data as Partial<Manifest> | null;
  if (typeof manifest !== 'object' || manifest === null) return ['not an object'];
  if (manifest.schemaVersion !== 1) problems.push(`unsupported schemaVersion ${String(manifest.schemaVersion)}`);
  if (manifest.mediaType !== MANIFEST_MEDIA_TYPE) problems.push(`unexpected mediaType ${String(manifest.mediaType)}`);
  if (typeof manifest.annotations !== 'object' || manifest.annotations === null) problems.push('annotations missing');
  if (!Array.isArray(manifest.files)) return [...problems, 'files missing'];
  const seen = new Set<string>();
  manifest.files.forEach((file, index) => {
    const where = `file ${index} (${String(file?.path)})`;
    const reason = unsafePathReason(file?.path);
    if (reason) problems.push(`${where}: path ${reason}`);
    else if (seen.has(file.path)) problems.push(`${where}: duplicate path`);
    else seen.add(file.path);
    if (!isSize(file?.size)) problems.push(`${where}: bad size`);
    if (!Number.isInteger(file?.mode)) problems.push(`${where}: bad mode`);
    if (!isDigest(file?.digest)) problems.push(`${where}: bad digest`);
    if (!Array.isArray(file?.chunks) || !file.chunks.every((c) => isDigest(c?.digest) && isSize(c?.size))) {
      problems.push(`${where}: bad chunk list`);
    } else if (file.chunks.reduce((sum, c) => sum + c.size, 0) !== file.size) {
      problems.push(`${where}: chunk sizes do not add up to the file size`);
    }
  });
  // A path that is a file and also a parent folder of another path cannot be written.
  for (const path of seen) {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      if (seen.has(parts.slice(0, i).join('/'))) problems.push(`path ${path} is inside file ${parts.slice(0, i).join('/')}`);
    }
  }
  return problems;
}
