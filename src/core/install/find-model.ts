// Finding a model by name across every configured repository, for `install NAME` and the picker: from each
// repository's catalog (index.json and its entries, one or two reads), which also carries descriptions and names
// bundles. A repository without a catalog (written by an older aim) is read from its tags (read-catalog.ts).
import { NotFoundError, UsageError } from '../../lib/errors.js';
import { browseCatalogs } from '../catalog/browse.js';
import { checkModelName, checkTagName } from '../format/names.js';
import { DEFAULT_TAG, parseReference, type Reference } from '../format/reference.js';
import { buildCatalog } from '../serve/catalog.js';
import type { Session } from '../session.js';

export interface AvailableModel {
  repo: string;
  model: string;
  tags: string[];
  /** Bytes of the most recently pushed tag's version. */
  size?: number;
  description?: string;
  /** A bundle: installing it installs each of its members. */
  bundle?: boolean;
}

export interface Availability {
  models: AvailableModel[];
  /** A repository that could not be read, or a catalog file in one that does not read back. */
  problems: Array<{ key: string; message: string }>;
}

/** Every model of every configured repository; one that cannot be reached is a problem, the others are listed. */
export async function availableModels(session: Session): Promise<Availability> {
  const view = await browseCatalogs(session);
  const models = view.models.map(({ repo, entry }) => ({
    repo,
    model: entry.model,
    tags: Object.keys(entry.tags),
    size: entry.latest.size,
    ...(entry.description ? { description: entry.description } : {}),
    ...(entry.kind === 'bundle' ? { bundle: true } : {}),
  }));
  const problems = [
    ...view.unreachable.map(({ repo, message }) => ({ key: repo, message })),
    ...view.problems.map(({ repo, key, message }) => ({ key: `${repo}: ${key}`, message })),
  ];
  return { models, problems };
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
