// Finding a model by name across every configured repository, for `install NAME` and the picker. Today it lists
// each repository's models and tags (as `aim model list` does); this is the one function to switch to the
// repositories' catalog (index.json) once it exists, so nothing else changes then.
import { NotFoundError, UsageError } from '../../lib/errors.js';
import { checkModelName, checkTagName } from '../format/names.js';
import { DEFAULT_TAG, parseReference, type Reference } from '../format/reference.js';
import { buildCatalog } from '../serve/catalog.js';
import type { Session } from '../session.js';
import { listModelSummaries } from '../store/model-listing.js';

export interface AvailableModel {
  repo: string;
  model: string;
  tags: string[];
  /** Bytes of the most recently pushed tag's version. */
  size?: number;
  description?: string;
}

export interface Availability {
  models: AvailableModel[];
  /** A repository that could not be listed, or a model or tag in one that does not read back. */
  problems: Array<{ key: string; message: string }>;
}

/** Every model of every configured repository; one that cannot be reached is a problem, the others are listed. */
export async function availableModels(session: Session): Promise<Availability> {
  const found: Availability = { models: [], problems: [] };
  for (const { name } of session.config.repositories) {
    try {
      const listing = await listModelSummaries(await session.repository(name));
      for (const m of listing.models) found.models.push({ repo: name, model: m.name, tags: m.tags, size: m.latest?.size });
      for (const p of listing.problems) found.problems.push({ key: `${name}: ${p.key}`, message: p.message });
    } catch (error) {
      found.problems.push({ key: name, message: error instanceof Error ? error.message : String(error) });
    }
  }
  return found;
}

export interface InstallTarget {
  ref: Reference;
  /** The quantization a friendly name maps to, taken unless --quant says otherwise. */
  quant?: string;
  /** Repositories that could not be searched (when the name was looked up across them). */
  problems: Availability['problems'];
}

function splitTag(text: string): { name: string; tag: string } {
  const colon = text.indexOf(':');
  return colon < 0 ? { name: checkModelName(text), tag: DEFAULT_TAG } : { name: checkModelName(text.slice(0, colon)), tag: checkTagName(text.slice(colon + 1)) };
}

/**
 * What `install TEXT` names: a friendly name (model_repos.yaml's models:), a reference (REPO/MODEL[:TAG|@DIGEST]),
 * or a model name found in exactly one repository. Several repositories holding the name is a usage error listing them.
 */
export async function resolveInstallTarget(session: Session, text: string): Promise<InstallTarget> {
  const entry = buildCatalog(session.config.models, session.config.filepath).get(text);
  if (entry) {
    if (!entry.ref) {
      throw new NotFoundError(`${text} names ${entry.hfRepo} on Hugging Face, not a model in an aim repository`, {
        hint: 'push its GGUF to a repository and map the name to it under models: in model_repos.yaml',
      });
    }
    return { ref: parseReference(entry.ref), ...(entry.quant ? { quant: entry.quant } : {}), problems: [] };
  }
  if (text.includes('/')) return { ref: parseReference(text), problems: [] };
  const { name, tag } = splitTag(text);
  const { models, problems } = await availableModels(session);
  const matches = models.filter((m) => m.model === name);
  if (matches.length === 1) return { ref: { repo: matches[0]!.repo, model: name, tag }, problems };
  if (matches.length > 1) {
    const candidates = matches.map((m) => `${m.repo}/${name}`);
    throw new UsageError(`"${name}" is a model in ${matches.length} repositories: ${candidates.join(', ')}`, {
      hint: `name one, e.g. \`aim install ${candidates[0]}${tag === DEFAULT_TAG ? '' : `:${tag}`}\``,
    });
  }
  const searched = session.config.repositories.map((r) => r.name).join(', ') || 'none configured';
  const unreachable = problems.filter((p) => !p.key.includes(':')).map((p) => p.key);
  throw new NotFoundError(`no model named "${name}" in any repository (searched ${searched}${unreachable.length ? `; could not read ${unreachable.join(', ')}` : ''})`, {
    hint: 'see what there is with `aim model list REPO`, or run `aim install` on a terminal to pick one',
  });
}
