import { realpath } from 'node:fs/promises';
import { resolve } from 'node:path';
import { isMap, type Document } from 'yaml';
import type { RepoLocation } from '../../backends/backend.js';
import { writeAtomic } from '../../lib/atomic-write.js';
import { CONFIG_FILE_NAME, configFromDocument, findRepo, type AimConfig, type RepoConfig } from './config.js';
import { ConfigError, ConflictError, UsageError } from '../../lib/errors.js';
import { checkRepoName } from '../format/names.js';

// Edits of model_repos.yaml go through the YAML Document so that comments, order and formatting of an existing,
// shared file survive; the file is replaced atomically so a crash never leaves half a config.

export interface RepoDefinition extends RepoLocation {
  name: string;
}

/** A config edit checked and ready to write: the file, its new text as a document, and the entry as commands load it. */
export interface RepositoryEdit {
  filepath: string;
  document: Document;
  repo: RepoConfig;
}

/**
 * The configuration with `repo` added, checked by the very loader every command uses, so `repo create` cannot write
 * an entry that would then break every command (`repo delete` included). Writes nothing.
 */
export function planRepository(config: AimConfig, repo: RepoDefinition, cwd = process.cwd()): RepositoryEdit {
  checkRepoName(repo.name);
  if (config.repositories.some((existing) => existing.name === repo.name)) {
    throw new ConflictError(`repository "${repo.name}" already exists in ${config.filepath}`, {
      hint: `delete it first with \`aim repo delete ${repo.name}\`, or pick another name`,
    });
  }
  const filepath = config.filepath ?? resolve(cwd, CONFIG_FILE_NAME);
  const document = config.document.clone();
  if (!isMap(document.contents)) document.contents = document.createNode({}) as typeof document.contents;
  const { name, ...location } = repo;
  // A published repository (type http) is written as its `url:`; its location's path is the same URL.
  const written = location.type === 'http' ? { type: location.type, url: location.path, concurrency: location.concurrency } : location;
  const entry = Object.fromEntries(Object.entries(written).filter(([, value]) => value !== undefined));
  document.setIn(['repositories', name], document.createNode(entry));
  try {
    return { filepath, document, repo: findRepo(configFromDocument(document, filepath), name) };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const why = error.message.startsWith(`${filepath}: `) ? error.message.slice(filepath.length + 2) : error.message;
    // The file loaded before the entry was added, so what is wrong is in the entry, which the flags wrote: a bad
    // option value (exit 2), as `--type ftp` is, not a broken configuration.
    throw new UsageError(`cannot add repository ${name} to ${filepath}: ${why}`, { hint: 'fix the option named above; nothing was written', cause: error });
  }
}

/**
 * Replaces the configuration file atomically, through a link to it: a model_repos.yaml kept in a dotfiles folder
 * and linked into place must be edited there, as git edits a linked ~/.gitconfig, not become a copy beside it.
 */
export async function writeConfigFile(filepath: string, text: string): Promise<void> {
  const target = await realpath(filepath).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return filepath;
    throw error;
  });
  await writeAtomic(target, text);
}

export async function writeRepositoryEdit(edit: RepositoryEdit): Promise<string> {
  await writeConfigFile(edit.filepath, edit.document.toString());
  return edit.filepath;
}

export async function addRepository(config: AimConfig, repo: RepoDefinition, cwd = process.cwd()): Promise<string> {
  return writeRepositoryEdit(planRepository(config, repo, cwd));
}

export async function removeRepository(config: AimConfig, name: string): Promise<string> {
  findRepo(config, name);
  config.document.deleteIn(['repositories', name]);
  await writeConfigFile(config.filepath!, config.document.toString());
  return config.filepath!;
}
