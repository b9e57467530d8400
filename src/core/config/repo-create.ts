import { supportsCreate, type Backend } from '../../backends/backend.js';
import { openBackend } from '../../backends/index.js';
import { NotFoundError } from '../../lib/errors.js';
import type { AimConfig, RepoConfig } from './config.js';
import { planRepository, writeRepositoryEdit, type RepoDefinition } from './config-edit.js';

// `aim repo create`: check the new entry with the loader every command uses, make the storage exist, and only
// then write the config line. A failure at any step leaves no config line, and a check that fails leaves no folder.

export interface CreatedRepository {
  repo: RepoConfig;
  /** The model_repos.yaml written. */
  config: string;
}

/** A folder is made when missing; one that exists must be a writable folder. An object store is left to its first push. */
async function ensureStorage(backend: Backend): Promise<void> {
  if (!supportsCreate(backend)) return;
  try {
    await backend.probe('write');
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
    await backend.create();
    await backend.probe('write');
  }
}

export async function createRepository(config: AimConfig, definition: RepoDefinition, cwd = process.cwd()): Promise<CreatedRepository> {
  const edit = planRepository(config, definition, cwd);
  const backend = await openBackend(edit.repo);
  try {
    await ensureStorage(backend);
  } finally {
    await backend.close?.();
  }
  return { repo: edit.repo, config: await writeRepositoryEdit(edit) };
}
