import { ConflictError, NotFoundError } from '../../lib/errors.js';
import { readPublicKey } from '../signing/keys.js';
import { configFromDocument, findRepo, type AimConfig } from './config.js';
import { writeConfigFile } from './config-edit.js';

// `aim trust add/remove` edit the repository's `trust:` section through the YAML document (comments and order
// survive), check the result with the loader every command uses, and replace the file atomically.

export interface TrustEdit {
  filepath: string;
  repo: string;
  name: string;
  keyId?: string;
}

function save(config: AimConfig): Promise<void> {
  const filepath = config.filepath!;
  configFromDocument(config.document, filepath);
  return writeConfigFile(filepath, config.document.toString());
}

/**
 * Trusts the P-256 public key in `pubPath` under `name` for repository `repoName`, its PEM copied into the file
 * (the policy must not change when a key file is moved or replaced). Sets `require: signed` when no rule is set.
 */
export async function addTrustedKey(config: AimConfig, repoName: string, pubPath: string, name: string): Promise<TrustEdit> {
  const repo = findRepo(config, repoName);
  const info = await readPublicKey(pubPath);
  const keys = repo.trust?.keys ?? [];
  if (keys.some((key) => key.name === name)) {
    throw new ConflictError(`repository ${repoName} already trusts a key named ${name}`, { hint: `remove it first: aim trust remove ${repoName} ${name}` });
  }
  const document = config.document;
  if (repo.trust?.require === undefined || !document.hasIn(['repositories', repoName, 'trust', 'require'])) {
    document.setIn(['repositories', repoName, 'trust', 'require'], 'signed');
  }
  if (!document.hasIn(['repositories', repoName, 'trust', 'keys'])) document.setIn(['repositories', repoName, 'trust', 'keys'], document.createNode([]));
  document.addIn(['repositories', repoName, 'trust', 'keys'], document.createNode({ name, pem: info.pem }));
  await save(config);
  return { filepath: config.filepath!, repo: repoName, name, keyId: info.keyId };
}

export async function removeTrustedKey(config: AimConfig, repoName: string, name: string): Promise<TrustEdit> {
  const repo = findRepo(config, repoName);
  const index = (repo.trust?.keys ?? []).findIndex((key) => key.name === name);
  if (index < 0) throw new NotFoundError(`repository ${repoName} trusts no key named ${name}`, { hint: `aim trust list ${repoName}` });
  config.document.deleteIn(['repositories', repoName, 'trust', 'keys', index]);
  await save(config);
  return { filepath: config.filepath!, repo: repoName, name };
}
