import { ConflictError, NotFoundError } from '../../lib/errors.js';
import { readPublicKey } from '../signing/keys.js';
import type { TrustSection } from '../format/schemas/trust.js';
import { configFromDocument, findRepo, type AimConfig } from './config.js';
import { readKeyEntry } from './trust-policy.js';
import { writeConfigFile } from './config-edit.js';

// `aim trust add/remove` edit the repository's `trust:` section through the YAML document (comments and order
// survive), check the result with the loader every command uses, and replace the file atomically.

export interface TrustEdit {
  filepath: string;
  repo: string;
  name: string;
  keyId?: string;
  /** The key was trusted under that name already: the file was not touched. */
  unchanged?: boolean;
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
  const trusted = await trustedAlready(config, repoName, repo.trust?.keys ?? [], name, info.keyId);
  if (trusted) return { filepath: config.filepath!, repo: repoName, name, keyId: info.keyId, unchanged: true };
  const document = config.document;
  if (repo.trust?.require === undefined || !document.hasIn(['repositories', repoName, 'trust', 'require'])) {
    document.setIn(['repositories', repoName, 'trust', 'require'], 'signed');
  }
  if (!document.hasIn(['repositories', repoName, 'trust', 'keys'])) document.setIn(['repositories', repoName, 'trust', 'keys'], document.createNode([]));
  document.addIn(['repositories', repoName, 'trust', 'keys'], document.createNode({ name, pem: info.pem }));
  await save(config);
  return { filepath: config.filepath!, repo: repoName, name, keyId: info.keyId };
}

/**
 * True when the repository trusts this very key under this name already: adding it again changes nothing, so a
 * setup script may run `aim trust add` on every machine, every time. The name on another key, or the key under
 * another name, is a ConflictError: a second entry for one key would hide from `aim trust list` (which shows a key
 * once) and outlive `aim trust remove` of the name the user sees.
 */
async function trustedAlready(config: AimConfig, repoName: string, keys: TrustSection['keys'], name: string, keyId: string): Promise<boolean> {
  // An entry whose key cannot be read (a path to a file moved away) is some other key.
  const idOf = (entry: TrustSection['keys'][number]) => readKeyEntry(config, entry, `trusted key ${entry.name}`).then((info) => info.keyId, () => undefined);
  const named = keys.find((key) => key.name === name);
  if (named) {
    if ((await idOf(named)) === keyId) return true;
    throw new ConflictError(`repository ${repoName} already trusts another key named ${name}`, {
      hint: `give this one another --name, or replace that one: aim trust remove ${repoName} ${name}, then add again`,
    });
  }
  for (const entry of keys) {
    if ((await idOf(entry)) !== keyId) continue;
    throw new ConflictError(`repository ${repoName} already trusts this key (key id ${keyId}) as ${entry.name}`, {
      hint: `nothing to do; to call it ${name} instead: aim trust remove ${repoName} ${entry.name}, then add again`,
    });
  }
  return false;
}

export async function removeTrustedKey(config: AimConfig, repoName: string, name: string): Promise<TrustEdit> {
  const repo = findRepo(config, repoName);
  const index = (repo.trust?.keys ?? []).findIndex((key) => key.name === name);
  if (index < 0) throw new NotFoundError(`repository ${repoName} trusts no key named ${name}`, { hint: `aim trust list ${repoName}` });
  config.document.deleteIn(['repositories', repoName, 'trust', 'keys', index]);
  await save(config);
  return { filepath: config.filepath!, repo: repoName, name };
}
