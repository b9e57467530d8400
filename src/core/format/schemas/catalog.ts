import * as v from 'valibot';
import { MAX_ANNOTATIONS, MAX_CATALOG_BYTES } from './limits.js';
import { ConfigError, type AimError } from '../../../lib/errors.js';
import { counted } from '../../../lib/plural.js';
import { byteSize, corrupt, count, digest, parseJsonText, parseValue, summarizeIssues, text, timestamp, type Format } from './parse.js';
import { tagRecordSchema } from './store.js';
import { bundleMemberSchema, MAX_BUNDLE_MEMBERS } from './bundle.js';

// The catalog's formats: catalog/<model>.json, one small entry per model that the model's own pushes and deletes
// write (the truth), and index.json at the root, every entry rolled up into one read (derived). Both may be
// damaged or hostile: a reader that cannot use one steps over it, naming the key, and rebuilds from the tags.

/** One model's entry holds its tags and the newest version's annotations: far below this. */
export const MAX_CATALOG_ENTRY_BYTES = 4 * 1024 * 1024;

export const CATALOG_ENTRY_FORMAT: Format = {
  what: 'catalog entry',
  maxBytes: MAX_CATALOG_ENTRY_BYTES,
  hint: 'run `aim repo reindex REPO` to write it again from the tags and manifests',
};
export const CATALOG_INDEX_FORMAT: Format = {
  what: 'catalog index.json',
  maxBytes: MAX_CATALOG_BYTES,
  hint: 'run `aim repo reindex REPO` to rebuild it from the tags and manifests',
};

const name = v.pipe(text(128), v.regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'is not a valid name'));

/** What an entry says of a model, or of a bundle (`kind: bundle`, naming its newest version's members). */
export const catalogEntrySchema = v.object({
  format: v.literal(1),
  kind: v.picklist(['model', 'bundle']),
  model: name,
  updatedAt: timestamp,
  description: v.optional(text()),
  license: v.optional(text(256)),
  source: v.optional(text()),
  architecture: v.optional(text(128)),
  parameters: v.optional(count(Number.MAX_SAFE_INTEGER)),
  contextLength: v.optional(count(Number.MAX_SAFE_INTEGER)),
  quantizations: v.pipe(v.array(text(64)), v.maxLength(256, 'lists more than 256 quantizations')),
  annotations: v.pipe(v.record(text(256), text()), v.maxEntries(MAX_ANNOTATIONS, `has more than ${MAX_ANNOTATIONS} annotations`)),
  /** The newest version: its tag (the one a reference names), digest, total bytes and file count. */
  latest: v.object({ tag: name, digest, size: byteSize(), files: count() }),
  tags: v.pipe(v.record(name, tagRecordSchema), v.maxEntries(100_000, 'has more than 100000 tags')),
  members: v.optional(v.pipe(v.array(bundleMemberSchema), v.maxLength(MAX_BUNDLE_MEMBERS, `names more than ${MAX_BUNDLE_MEMBERS} members`))),
});

export type CatalogEntry = v.InferOutput<typeof catalogEntrySchema>;

/** index.json's frame; each model's entry is checked on its own, so one bad entry costs that model only. */
const catalogIndexFrame = v.object({
  format: v.literal(2),
  updatedAt: timestamp,
  models: v.record(name, v.unknown()),
});

export interface CatalogIndex {
  format: 2;
  updatedAt: string;
  models: Record<string, CatalogEntry>;
}

/**
 * Bad parts named one by one: a hostile index.json of a million broken parts must not become a million errors
 * (each with its stack) and a million warning lines.
 */
const MAX_BAD_PARTS_NAMED = 10;

/** index.json's bytes: the models whose entries read, and why each other one does not (`corrupt` errors). */
export function parseCatalogIndex(bytes: Uint8Array, where: string): { index: CatalogIndex; bad: Array<{ model: string; error: AimError }> } {
  const raw = parseJsonText(bytes, CATALOG_INDEX_FORMAT, where) as { format?: unknown } | null;
  if (raw?.format === 1) {
    throw new ConfigError(`${where} was written by an older aim (format 1, tags only); models are read from their tags until \`aim repo reindex\` rebuilds it`, { hint: CATALOG_INDEX_FORMAT.hint });
  }
  const frame = parseValue(catalogIndexFrame, raw, CATALOG_INDEX_FORMAT, where);
  const models: Record<string, CatalogEntry> = {};
  const bad: Array<{ model: string; error: AimError }> = [];
  const unnamed: string[] = [];
  for (const [model, value] of Object.entries(frame.models)) {
    const result = v.safeParse(catalogEntrySchema, value);
    const why = !result.success ? summarizeIssues(result.issues) : result.output.model !== model ? `names model ${result.output.model}` : undefined;
    if (why === undefined && result.success) models[model] = result.output;
    else if (bad.length < MAX_BAD_PARTS_NAMED) bad.push({ model, error: corrupt(CATALOG_INDEX_FORMAT, where, `models.${model}: ${why}`) });
    else unnamed.push(model);
  }
  if (unnamed.length > 0) {
    bad.push({ model: unnamed[0]!, error: corrupt(CATALOG_INDEX_FORMAT, where, `the parts of ${counted(unnamed.length, 'more model')} do not read either (${unnamed[0]} first)`) });
  }
  return { index: { format: 2, updatedAt: frame.updatedAt, models }, bad };
}
