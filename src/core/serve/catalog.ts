// Friendly names for `aim run NAME`: a built-in catalog (the PRD's qwen2.5-7b-instruct) that the `models:` section
// of model_repos.yaml extends or overrides. An entry points at an aim reference (`repo/model:tag`), a Hugging Face
// GGUF repository (which the Kamiwaza engine downloads), or both; aim prefers its own repository when both exist.
import { ConfigError } from '../../lib/errors.js';
import { compareText } from '../../lib/compare-text.js';

export interface CatalogEntry {
  name: string;
  /** Human title for progress lines ("Qwen 2.5 7B Instruct"). */
  title: string;
  /** An aim reference, repo/model[:tag|@digest]. */
  ref?: string;
  hfRepo?: string;
  quant?: string;
}

// Popular small GGUF models, each with its hub repository and a quantization that repository publishes (file names
// like qwen2.5-0.5b-instruct-q8_0.gguf or Llama-3.2-3B-Instruct-Q4_K_M.gguf name it; the pick is case-insensitive).
export const BUILTIN_CATALOG: readonly CatalogEntry[] = [
  { name: 'qwen2.5-0.5b-instruct', title: 'Qwen 2.5 0.5B Instruct', hfRepo: 'Qwen/Qwen2.5-0.5B-Instruct-GGUF', quant: 'q8_0' },
  { name: 'qwen2.5-1.5b-instruct', title: 'Qwen 2.5 1.5B Instruct', hfRepo: 'Qwen/Qwen2.5-1.5B-Instruct-GGUF', quant: 'q6_k' },
  { name: 'qwen2.5-7b-instruct', title: 'Qwen 2.5 7B Instruct', hfRepo: 'Qwen/Qwen2.5-7B-Instruct-GGUF', quant: 'q6_k' },
  { name: 'llama-3.2-1b-instruct', title: 'Llama 3.2 1B Instruct', hfRepo: 'bartowski/Llama-3.2-1B-Instruct-GGUF', quant: 'q8_0' },
  { name: 'llama-3.2-3b-instruct', title: 'Llama 3.2 3B Instruct', hfRepo: 'bartowski/Llama-3.2-3B-Instruct-GGUF', quant: 'q4_k_m' },
  { name: 'phi-3.5-mini-instruct', title: 'Phi 3.5 Mini Instruct', hfRepo: 'bartowski/Phi-3.5-mini-instruct-GGUF', quant: 'q4_k_m' },
  { name: 'gemma-2-2b-it', title: 'Gemma 2 2B Instruct', hfRepo: 'bartowski/gemma-2-2b-it-GGUF', quant: 'q4_k_m' },
  { name: 'smollm2-1.7b-instruct', title: 'SmolLM2 1.7B Instruct', hfRepo: 'bartowski/SmolLM2-1.7B-Instruct-GGUF', quant: 'q4_k_m' },
];

const REF = /^[^/\s]+\/[^/\s:@]+(:[^\s]+|@blake3:[0-9a-f]{64})?$/;
const HF = /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/;

function titleOf(name: string): string {
  return name.split(/[-_]/).map((w) => (w ? w[0]!.toUpperCase() + w.slice(1) : w)).join(' ');
}

function entryOf(name: string, value: unknown, problems: string[]): CatalogEntry | undefined {
  if (typeof value === 'string') {
    // hf: first, since "hf:owner/repo" also has the shape of repo/model.
    if (value.startsWith('hf:') && HF.test(value.slice(3))) return { name, title: titleOf(name), hfRepo: value.slice(3) };
    if (REF.test(value)) return { name, title: titleOf(name), ref: value };
    return void problems.push(`models.${name}: "${value}" is neither repo/model[:tag] nor hf:owner/repo`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return void problems.push(`models.${name}: must be a reference string or a mapping with ref, hf, quant, title`);
  }
  const v = value as Record<string, unknown>;
  const entry: CatalogEntry = { name, title: typeof v.title === 'string' ? v.title : titleOf(name) };
  if (v.ref !== undefined) {
    if (typeof v.ref === 'string' && REF.test(v.ref)) entry.ref = v.ref;
    else problems.push(`models.${name}.ref: "${String(v.ref)}" is not repo/model[:tag]`);
  }
  if (v.hf !== undefined) {
    if (typeof v.hf === 'string' && HF.test(v.hf)) entry.hfRepo = v.hf;
    else problems.push(`models.${name}.hf: "${String(v.hf)}" is not owner/repo`);
  }
  if (v.quant !== undefined) {
    if (typeof v.quant === 'string' && /^[A-Za-z0-9_]+$/.test(v.quant)) entry.quant = v.quant.toLowerCase();
    else problems.push(`models.${name}.quant: "${String(v.quant)}" is not a quantization name like q6_k`);
  }
  if (!entry.ref && !entry.hfRepo) problems.push(`models.${name}: needs ref (an aim reference) or hf (a Hugging Face repo)`);
  return entry;
}

/** The catalog: built-ins, then the config's `models:` entries (which win on the same name). Collects every problem. */
export function buildCatalog(models: Record<string, unknown> = {}, where = 'model_repos.yaml'): Map<string, CatalogEntry> {
  const catalog = new Map(BUILTIN_CATALOG.map((e) => [e.name, e]));
  const problems: string[] = [];
  for (const [name, value] of Object.entries(models)) {
    const entry = entryOf(name, value, problems);
    if (entry) catalog.set(name, entry);
  }
  if (problems.length > 0) throw new ConfigError(`${where}: ${problems.join('; ')}`, { hint: 'see "Friendly names" in docs/serving.md' });
  return catalog;
}

/** The entry for a friendly name, or undefined when `name` is not one (then it is a reference). */
export function resolveFriendlyName(name: string, models: Record<string, unknown> = {}, where?: string): CatalogEntry | undefined {
  return buildCatalog(models, where).get(name);
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** The known names closest to a mistyped one (at most three), nearest first: as git suggests a command. */
export function suggestNames(typed: string, known: string[]): string[] {
  const wanted = typed.toLowerCase();
  const scored = known.map((name) => ({ name, distance: name.includes(wanted) || wanted.includes(name) ? 0 : editDistance(wanted, name.toLowerCase()) }));
  const limit = Math.max(2, Math.floor(wanted.length / 3));
  return scored.filter((s) => s.distance <= limit).sort((a, b) => a.distance - b.distance || compareText(a.name, b.name)).slice(0, 3).map((s) => s.name);
}
