// Which files of a version a pull takes: all of them, or those --include/--exclude select (path-filter.ts), and of
// the GGUF files only the chosen quantization's (with its shards). A version holding Q4_K_M, Q6_K and Q8_0 is
// mostly those three files; a user wants one of them. The destination's .aim records the subset, so it is verified
// as what it is, and a later pull of the same version into the same folder adds to it rather than dropping files.
import { NotFoundError } from '../../lib/errors.js';
import type { Manifest, ManifestFile } from '../format/manifest.js';
import type { QuantFit } from '../serve/quant-fit.js';
import { pathFilter, selectsEverything, type PathSelection } from './path-filter.js';

export interface FileSelection extends PathSelection {
  /** A quantization label (q4_k_m), or `auto` for the largest that fits free memory. */
  quant?: string;
  /** Tokens of context `--quant auto` reserves KV cache for (serve.ctx-size x serve.parallel; default 2048). */
  context?: number;
  /** Exactly these paths (what `run` serves), besides what the patterns select. */
  paths?: string[];
}

/** What DEST/.aim/state.json records of a subset pull. */
export interface SubsetRecord {
  include: string[];
  exclude: string[];
  quant?: string;
}

export interface FileChoice {
  files: ManifestFile[];
  /** Undefined when every file of the version is taken. */
  subset?: SubsetRecord;
  /** How --quant auto chose. */
  fit?: QuantFit;
}

const isGguf = (path: string): boolean => path.toLowerCase().endsWith('.gguf');

async function chooseQuant(files: ManifestFile[], quant: string, label: string, context?: number): Promise<{ chosen: Set<string>; quant?: string; fit?: QuantFit }> {
  // Loaded only for a --quant pull: the GGUF package is large.
  if (quant.toLowerCase() === 'auto') {
    const { fitToMachine, ggufVariants } = await import('../serve/quant-fit.js');
    const fit = await fitToMachine(ggufVariants(files, new Map(), context), label);
    return { chosen: new Set(fit.chosen.files), quant: fit.chosen.quant, fit };
  }
  const { selectGgufFiles } = await import('../serve/gguf-pick.js');
  const selection = selectGgufFiles(files.map((f) => f.path), { quant, label });
  return { chosen: new Set(selection.files), quant: selection.quant };
}

/**
 * The files of `manifest` that `selection` takes, plus those `keep` names (already installed from the same
 * version). Throws when the selection takes nothing: an empty pull is never what was meant.
 */
export async function chooseFiles(manifest: Manifest, selection: FileSelection, label: string, keep: (path: string) => boolean = () => false): Promise<FileChoice> {
  if (selectsEverything(selection) && selection.quant === undefined && selection.paths === undefined) return { files: manifest.files };
  const selected = selection.paths ? ((only: Set<string>) => (path: string) => only.has(path))(new Set(selection.paths)) : pathFilter(selection);
  let files = manifest.files.filter((f) => selected(f.path));
  let quant: string | undefined;
  let fit: QuantFit | undefined;
  if (selection.quant !== undefined) {
    const choice = await chooseQuant(files, selection.quant, label, selection.context);
    files = files.filter((f) => !isGguf(f.path) || choice.chosen.has(f.path));
    ({ quant, fit } = choice);
  }
  if (files.length === 0) {
    throw new NotFoundError(`no file of ${label} matches ${[...(selection.include ?? []), ...(selection.exclude ?? []).map((p) => `not ${p}`)].join(', ')}`, {
      hint: `see its files with \`aim inspect ${label}\`; a pattern without a slash matches a name at any depth`,
    });
  }
  const taken = new Set(files.map((f) => f.path));
  files = manifest.files.filter((f) => taken.has(f.path) || keep(f.path));
  if (files.length === manifest.files.length) return { files, fit };
  return { files, fit, subset: { include: selection.include ?? [], exclude: selection.exclude ?? [], ...(quant ? { quant } : {}) } };
}
