import { basename } from 'node:path';
import { AimError } from '../../lib/errors.js';
import type { Manifest } from '../format/manifest.js';
import { DEFAULT_TAG } from '../format/reference.js';
import type { CatalogEntry } from '../format/schemas/catalog.js';
import { readableTags, type RepoProblem } from './model-listing.js';
import type { Repository } from './repository.js';

// A model's catalog entry, made from what the repository holds for it: its tags (the truth of which versions
// exist) and the newest version's manifest (description, license, GGUF facts). Reading one model's tags and one
// manifest keeps the cost of a push's catalog update to that model, whatever else the repository holds.

export const catalogEntryKey = (model: string): string => `catalog/${model}.json`;

const number = (value: string | undefined): number | undefined => {
  const parsed = value === undefined ? Number.NaN : Number(value);
  return Number.isSafeInteger(parsed) && parsed >= 0 ? parsed : undefined;
};

/** Quantizations named by GGUF headers (annotations) and GGUF file names, upper case, without repeats. */
export async function quantizationsOf(manifest: Manifest): Promise<string[]> {
  const found = new Set((manifest.annotations['gguf.quantization'] ?? '').split(',').map((q) => q.trim().toUpperCase()).filter(Boolean));
  const ggufs = manifest.files.filter((file) => /\.gguf$/i.test(file.path));
  if (ggufs.length > 0) {
    // Loaded only for versions that hold GGUF files: the package is large.
    const { parseGGUFQuantLabel } = await import('@huggingface/gguf');
    for (const file of ggufs) {
      const label = parseGGUFQuantLabel(basename(file.path));
      if (label) found.add(label.toUpperCase());
    }
  }
  return [...found].sort();
}

/** The entry's fields that come from a version's manifest. */
export async function describeVersion(manifest: Manifest | undefined): Promise<Omit<CatalogEntry, 'format' | 'kind' | 'model' | 'updatedAt' | 'latest' | 'tags'>> {
  if (!manifest) return { quantizations: [], annotations: {} };
  const a = manifest.annotations;
  return {
    description: a.description,
    license: a.license,
    source: a.source,
    architecture: a['gguf.architecture'],
    parameters: number(a['gguf.parameter_count']),
    contextLength: number(a['gguf.context_length']),
    quantizations: await quantizationsOf(manifest),
    annotations: a,
  };
}

/**
 * The model's entry from its tags and newest version, or undefined when it has no readable tag (deleted). A manifest
 * the caller already holds (a push's) is used as is; one that does not read leaves the entry without its facts and
 * is reported in `problems`.
 */
export async function buildCatalogEntry(repo: Repository, model: string, problems: RepoProblem[], known?: { digest: string; manifest: Manifest }): Promise<CatalogEntry | undefined> {
  const tags = await readableTags(repo, model, problems);
  if (tags.length === 0) return undefined;
  const newest = tags.find((t) => t.tag === DEFAULT_TAG) ?? tags.at(-1)!;
  let manifest = known?.digest === newest.digest ? known.manifest : undefined;
  if (!manifest) {
    manifest = await repo.getManifest(newest.digest).catch((error: unknown) => {
      if (!(error instanceof AimError)) throw error;
      problems.push({ key: `manifest ${newest.digest} of ${model}`, message: error.message });
      return undefined;
    });
  }
  return {
    format: 1,
    kind: 'model',
    model,
    updatedAt: new Date().toISOString(),
    ...(await describeVersion(manifest)),
    latest: { tag: newest.tag, digest: newest.digest, size: newest.size, files: newest.files },
    tags: Object.fromEntries(tags.map(({ tag, ...record }) => [tag, record])),
  };
}
