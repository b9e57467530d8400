import type { CatalogEntry } from '../format/schemas/catalog.js';
import type { Session } from '../session.js';
import { browseCatalogs, type CatalogModel, type CatalogView } from './browse.js';
import { compareText } from '../../lib/compare-text.js';

// `aim search`: every model of every configured repository scored against the query. A name match outranks
// everything else (exact > prefix > a word of the name > anywhere in it), then a quantization or architecture,
// then the description, then any other annotation. Every word of the query must match somewhere.

export interface SearchFilters {
  /** GGUF architecture, e.g. llama (case does not matter). */
  arch?: string;
  /** A quantization the model has, e.g. Q4_K_M (case does not matter). */
  quant?: string;
  /** Newest version's total size at most this many bytes. */
  maxSize?: number;
  /** Only these repositories (default: all). */
  repos?: string[];
}

export type MatchKind = 'name' | 'name-prefix' | 'name-word' | 'name-part' | 'quantization' | 'architecture' | 'description' | 'annotation';

export interface SearchHit extends CatalogModel {
  score: number;
  /** How the best-scoring word of the query matched. */
  match: MatchKind;
}

export interface SearchResult extends Omit<CatalogView, 'models'> {
  query: string;
  hits: SearchHit[];
}

const SCORES: Record<MatchKind, number> = {
  name: 100, 'name-prefix': 80, 'name-word': 60, 'name-part': 50, quantization: 40, architecture: 35, description: 30, annotation: 20,
};

/** The best way one query word matches the entry, or undefined. */
function matchWord(entry: CatalogEntry, word: string): MatchKind | undefined {
  const name = entry.model.toLowerCase();
  if (name === word) return 'name';
  if (name.startsWith(word)) return 'name-prefix';
  if (name.split(/[-_.]/).some((part) => part === word || part.startsWith(word))) return 'name-word';
  if (name.includes(word)) return 'name-part';
  if (entry.quantizations.some((quant) => quant.toLowerCase() === word)) return 'quantization';
  if (entry.architecture?.toLowerCase() === word) return 'architecture';
  if (entry.description?.toLowerCase().includes(word)) return 'description';
  if (Object.entries(entry.annotations).some(([key, value]) => `${key} ${value}`.toLowerCase().includes(word))) return 'annotation';
  return undefined;
}

/** The entry's score for the query (every word must match somewhere; their scores add up), or undefined. */
export function scoreEntry(entry: CatalogEntry, query: string): { score: number; match: MatchKind } | undefined {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  const kinds = words.map((word) => matchWord(entry, word));
  if (words.length === 0 || kinds.some((kind) => kind === undefined)) return undefined;
  const matched = kinds as MatchKind[];
  const best = matched.reduce((a, b) => (SCORES[b] > SCORES[a] ? b : a));
  return { score: matched.reduce((sum, kind) => sum + SCORES[kind], 0), match: best };
}

export function passesFilters(entry: CatalogEntry, filters: SearchFilters): boolean {
  if (filters.arch && entry.architecture?.toLowerCase() !== filters.arch.toLowerCase()) return false;
  if (filters.quant && !entry.quantizations.some((quant) => quant.toLowerCase() === filters.quant!.toLowerCase())) return false;
  return filters.maxSize === undefined || entry.latest.size <= filters.maxSize;
}

/** Models matching `query` across repositories, best first (ties by name, then repository order). */
export async function searchCatalogs(session: Session, query: string, filters: SearchFilters = {}): Promise<SearchResult> {
  const view = await browseCatalogs(session, filters.repos);
  const hits: SearchHit[] = [];
  for (const model of view.models) {
    const scored = passesFilters(model.entry, filters) ? scoreEntry(model.entry, query) : undefined;
    if (scored) hits.push({ ...model, ...scored });
  }
  hits.sort((a, b) => b.score - a.score || compareText(a.entry.model, b.entry.model));
  return { query, hits, unreachable: view.unreachable, problems: view.problems };
}
