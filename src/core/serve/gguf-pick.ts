// Choosing the GGUF file of a pulled version that `run` hands to an engine. A GGUF repository usually holds one file
// per quantization (and large ones split into -0000N-of-0000M shards); the quantization is named in the file name and
// recorded in the header's general.file_type, and we check both agree so a mislabelled file is caught here rather
// than surprising the user after a multi-GB load.
import { readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { parseGGUFQuantLabel } from '@huggingface/gguf';
import { IntegrityError, NotFoundError } from '../../lib/errors.js';
import { fileTypeName, readGgufHeader, type GgufFacts, factsOf } from '../format/gguf.js';
import { ggufShardFileName, ggufShardName, isFirstGgufFile } from '../../serving/gguf-shard-name.js';

export const DEFAULT_QUANT = 'q6_k';

export interface PickOptions {
  /** Quantization to pick, matched case-insensitively in file names. Undefined = q6_k, or the only one there is. */
  quant?: string;
  /** What to call the folder in messages, e.g. "team/tiny:v1". */
  label?: string;
}

export interface PickedGguf {
  /** Absolute path of the file to load: the GGUF itself or the first shard of a split GGUF. */
  path: string;
  /** All files of the model, shards in order (one entry when not split). */
  files: string[];
  /** Quantization label as found in the file name, upper case ("Q6_K"). */
  quant: string;
  facts: GgufFacts;
}

async function listFiles(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath ?? e.path, e.name).slice(root.length + 1));
}

export function quantOf(file: string): string | undefined {
  return parseGGUFQuantLabel(basename(file))?.toUpperCase();
}

/** A file name names `quant` if the label stands alone: q4_k must not match Q4_K_M. */
export function nameHasQuant(file: string, quant: string): boolean {
  const escaped = quant.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|[^a-z0-9_])${escaped}($|[^a-z0-9_])`, 'i').test(basename(file));
}

export function groupShards(file: string, ggufs: string[]): string[] {
  const split = ggufShardName(basename(file));
  if (!split) return [file];
  const { prefix, total } = split;
  const dir = file.slice(0, file.length - basename(file).length);
  const shards: string[] = [];
  for (let i = 1; i <= total; i++) {
    const name = `${dir}${ggufShardFileName(prefix, i, total)}`;
    const found = ggufs.find((g) => g.toLowerCase() === name.toLowerCase());
    if (!found) throw new NotFoundError(`shard ${i} of ${total} (${name}) is missing`, { hint: 'pull the version again, or push every shard of the split GGUF' });
    shards.push(found);
  }
  return shards;
}

export interface GgufSelection {
  /** Relative paths (or names) of the chosen model's files, first shard first. */
  files: string[];
  /** Quantization label, upper case ("Q6_K"); undefined when the only GGUF names none. */
  quant?: string;
}

/**
 * Chooses among file names alone: the GGUF of the wanted quantization, with all its shards. Shared by the pick of a
 * pulled version and by the Kamiwaza hub flow, which chooses among a Hugging Face repository's files.
 */
export function selectGgufFiles(names: string[], options: PickOptions = {}): GgufSelection {
  const label = options.label ?? 'this version';
  const ggufs = names.slice().sort().filter((f) => f.toLowerCase().endsWith('.gguf'));
  if (ggufs.length === 0) {
    throw new NotFoundError(`no GGUF file in ${label}`, { hint: 'aim run and --quant take GGUF models only; push a .gguf file into this model, or use another version (a pull without --quant takes every file)' });
  }
  // Only first shards (or unsplit files) are candidates; later shards come along with their first one.
  const candidates = ggufs.filter((f) => isFirstGgufFile(basename(f)));
  const available = [...new Set(candidates.map((f) => quantOf(f) ?? basename(f)))];
  const wanted = options.quant ?? (available.length === 1 ? undefined : DEFAULT_QUANT);
  const chosen = wanted === undefined ? candidates[0] : candidates.find((f) => nameHasQuant(f, wanted));
  if (!chosen) {
    throw new NotFoundError(`quantization ${wanted} not found in ${label}; it has ${available.join(', ')}`, {
      hint: `choose one with --quant, e.g. --quant ${available[0]!.toLowerCase()}`,
    });
  }
  return { files: groupShards(chosen, ggufs), quant: (wanted ?? quantOf(chosen))?.toUpperCase() };
}

/** Picks and checks the GGUF to serve among a version's files (relative paths under `root`). */
export async function pickGguf(root: string, options: PickOptions = {}, files?: string[]): Promise<PickedGguf> {
  const selection = selectGgufFiles(files ?? (await listFiles(root)), { ...options, label: options.label ?? root });
  const shards = selection.files.map((f) => join(root, f));
  const headers = await Promise.all(shards.map((s) => readGgufHeader(s)));
  const facts = factsOf(headers[0]!);
  const quant = selection.quant ?? facts.quantization ?? 'unknown';
  checkFileType(shards[0]!, quant, headers[0]!.metadata['general.file_type']);
  return { path: shards[0]!, files: shards, quant, facts };
}

function checkFileType(path: string, quant: string, fileType: unknown): void {
  const headerQuant = fileTypeName(fileType);
  // Only a header that names a known type can contradict the file name; unknown quant labels (e.g. unsloth's
  // UD-*_XL) are not llama_ftype values, so there is nothing to compare.
  if (!headerQuant || !(quant in GGMLFileQuantizationTypeNames)) return;
  if (headerQuant !== quant) {
    throw new IntegrityError(`${basename(path)} is named ${quant} but its header says ${headerQuant} (general.file_type)`, {
      hint: `the file is mislabelled; use --quant ${headerQuant.toLowerCase()} if that is what you want, or fix the file name`,
    });
  }
}

const GGMLFileQuantizationTypeNames: Record<string, true> = Object.fromEntries(
  Array.from({ length: 64 }, (_, i) => fileTypeName(i)).filter((n): n is string => !!n).map((n) => [n, true]),
);
