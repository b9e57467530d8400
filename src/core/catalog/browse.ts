import { AimError } from '../../lib/errors.js';
import { findRepo } from '../config/config.js';
import type { CatalogEntry } from '../format/schemas/catalog.js';
import type { Session } from '../session.js';
import type { RepoProblem } from '../store/model-listing.js';
import { readCatalog } from './read-catalog.js';

// The catalogs of several configured repositories side by side: what `aim list` and `aim search` (and the MCP
// server's tools) start from. A repository that cannot be reached costs its own models only: it is named in
// `unreachable` and the others are still read.

export interface CatalogModel {
  repo: string;
  /** What `aim pull` / `aim run` take to fetch its newest version: REPO/MODEL:TAG. */
  reference: string;
  entry: CatalogEntry;
}

export interface CatalogView {
  models: CatalogModel[];
  unreachable: Array<{ repo: string; message: string }>;
  problems: Array<RepoProblem & { repo: string }>;
}

/** Every model of `repos` (default: every configured repository). Unknown names are a plain error. */
export async function browseCatalogs(session: Session, repos: string[] = []): Promise<CatalogView> {
  // `--repo a --repo a` lists a once; a name that is not configured is a typo, refused before anything is read
  // rather than listed among the repositories that could not be reached.
  const names = repos.length > 0 ? [...new Set(repos)] : session.config.repositories.map((repo) => repo.name);
  for (const name of names) findRepo(session.config, name);
  const view: CatalogView = { models: [], unreachable: [], problems: [] };
  for (const name of names) {
    try {
      const catalog = await readCatalog(await session.repository(name));
      for (const entry of catalog.models) view.models.push({ repo: name, reference: `${name}/${entry.model}:${entry.latest.tag}`, entry });
      for (const problem of catalog.problems) view.problems.push({ repo: name, ...problem });
    } catch (error) {
      // A repository named on the command line that cannot be read is the command's failure, not a note.
      if (!(error instanceof AimError) || (names.length === 1 && repos.length > 0)) throw error;
      view.unreachable.push({ repo: name, message: error.message });
    }
  }
  return view;
}
