import { resolve } from 'node:path';
import { isMap } from 'yaml';
import type { RepoLocation } from '../../backends/backend.js';
import { writeAtomic } from '../../lib/atomic-write.js';
import { CONFIG_FILE_NAME, findRepo, type AimConfig } from './config.js';
import { ConflictError } from '../../lib/errors.js';
import { checkRepoName } from '../format/names.js';

// Edits of model_repos.yaml go through the YAML Document so that comments, order and formatting of an existing,
// shared file survive; the file is replaced atomically so a crash never leaves half a config.

export interface RepoDefinition extends RepoLocation {
  name: string;
}

export async function addRepository(config: AimConfig, repo: RepoDefinition, cwd = process.cwd()): Promise<string> {
  checkRepoName(repo.name);
  if (config.repositories.some((existing) => existing.name === repo.name)) {
    throw new ConflictError(`repository "${repo.name}" already exists in ${config.filepath}`, {
      hint: `delete it first with \`aim repo delete ${repo.name}\`, or pick another name`,
    });
  }
  const filepath = config.filepath ?? resolve(cwd, CONFIG_FILE_NAME);
  const document = config.document;
  if (!isMap(document.contents)) document.contents = document.createNode({}) as typeof document.contents;
  const { name, ...location } = repo;
  const entry = Object.fromEntries(Object.entries(location).filter(([, value]) => value !== undefined));
  document.setIn(['repositories', name], document.createNode(entry));
  await writeAtomic(filepath, document.toString());
  return filepath;
}

export async function removeRepository(config: AimConfig, name: string): Promise<string> {
  findRepo(config, name);
  config.document.deleteIn(['repositories', name]);
  await writeAtomic(config.filepath!, config.document.toString());
  return config.filepath!;
}
