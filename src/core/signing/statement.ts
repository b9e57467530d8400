import { createHash } from 'node:crypto';
import { digestHex } from '../format/digest.js';
import type { Manifest } from '../format/manifest.js';

// The in-toto statement of OpenSSF model signing v1.0 (github.com/sigstore/model-transparency,
// docs/model_signing_format.md), serialization method "files": one resource per file, named by its path relative
// to the model folder, with the file's digest. aim's manifests already hold each file's BLAKE3, which the
// reference tool accepts since 1.1 as `algorithm: "blake3"`, so a signature costs no pass over the data.

export const STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
export const PREDICATE_TYPE = 'https://model_signing/signature/v1.0';

/**
 * Files the reference verifier must skip in a pulled folder: aim's own state (`.aim`), the signature itself, and
 * what the reference tool ignores by default. It reads this list from the signature when it checks a folder.
 */
export const IGNORED_PATHS = ['.aim', '.git', '.gitattributes', '.github', '.gitignore', 'model.sig'];

export interface Resource {
  name: string;
  algorithm: string;
  digest: string;
}

export interface ModelStatement {
  _type: typeof STATEMENT_TYPE;
  subject: [{ name: string; digest: { sha256: string } }];
  predicateType: typeof PREDICATE_TYPE;
  predicate: {
    serialization: { method: 'files'; hash_type: 'blake3'; allow_symlinks: false; ignore_paths: string[] };
    resources: Resource[];
  };
}

/**
 * Paths in the order the reference tool lists them: Python sorts pathlib paths segment by segment, which differs
 * from sorting the strings ("a/b" comes before "a-b" there, after it as text).
 */
function comparePaths(a: string, b: string): number {
  const left = a.split('/');
  const right = b.split('/');
  for (let i = 0; i < Math.min(left.length, right.length); i++) {
    if (left[i] !== right[i]) return left[i]! < right[i]! ? -1 : 1;
  }
  return left.length - right.length;
}

export function resourcesOf(manifest: Manifest): Resource[] {
  return manifest.files
    .map((file) => ({ name: file.path, algorithm: 'blake3', digest: digestHex(file.digest) }))
    .sort((a, b) => comparePaths(a.name, b.name));
}

/** The subject's digest: SHA-256 over the resources' raw digests in their listed order, as the reference computes it. */
export function rootDigest(resources: readonly Resource[]): string {
  const hash = createHash('sha256');
  for (const resource of resources) hash.update(Buffer.from(resource.digest, 'hex'));
  return hash.digest('hex');
}

/** The statement that signs `manifest`'s files under `modelName` (informative only: verifiers ignore it). */
export function statementFor(modelName: string, manifest: Manifest): ModelStatement {
  const resources = resourcesOf(manifest);
  return {
    _type: STATEMENT_TYPE,
    subject: [{ name: modelName, digest: { sha256: rootDigest(resources) } }],
    predicateType: PREDICATE_TYPE,
    predicate: {
      serialization: { method: 'files', hash_type: 'blake3', allow_symlinks: false, ignore_paths: IGNORED_PATHS },
      resources,
    },
  };
}

/**
 * Why a signed list of resources does not describe `manifest`'s files (a file added, removed or changed), or
 * undefined when it does, file for file. The manifest is what pull checks every byte against, so a match here
 * binds the signature to the bytes that land.
 */
export function resourcesMismatch(signed: readonly Resource[], manifest: Manifest): string | undefined {
  const expected = new Map(resourcesOf(manifest).map((resource) => [resource.name, resource.digest]));
  const seen = new Set<string>();
  for (const resource of signed) {
    if (seen.has(resource.name)) return `it lists ${resource.name} twice`;
    seen.add(resource.name);
    const digest = expected.get(resource.name);
    if (digest === undefined) return `it signs ${resource.name}, which this version does not have`;
    if (resource.algorithm !== 'blake3' || resource.digest !== digest) return `it signs other bytes for ${resource.name}`;
  }
  const unsigned = [...expected.keys()].find((name) => !seen.has(name));
  return unsigned === undefined ? undefined : `it does not sign ${unsigned}`;
}
