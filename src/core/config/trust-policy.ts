import { dirname, isAbsolute, resolve } from 'node:path';
import { ConfigError } from '../../lib/errors.js';
import { parsePublicKey, readPublicKey } from '../signing/keys.js';
import { enforceTrust, type SignerReport, type TrustedKey, type TrustPolicy } from '../signing/policy.js';
import type { Repository } from '../store/repository.js';
import type { ResolvedVersion } from '../store/resolve.js';
import { findRepo, type AimConfig } from './config.js';

/**
 * The trust policy of repository `repoName` from model_repos.yaml, with every key read and checked (a file that is
 * not a P-256 public key is a ConfigError naming its entry). `requireSigned` (the `--require-signed` flag) asks
 * for signatures even when the file does not; undefined when there is nothing to enforce.
 */
export async function trustPolicyFor(config: AimConfig, repoName: string, requireSigned = false): Promise<TrustPolicy | undefined> {
  const section = config.repositories.find((repo) => repo.name === repoName)?.trust;
  const required = requireSigned || section?.require === 'signed';
  if (!required) return undefined;
  return { requireSigned: true, keys: await trustedKeys(config, repoName) };
}

/** The keys repository `repoName` trusts, read and checked. */
export async function trustedKeys(config: AimConfig, repoName: string): Promise<TrustedKey[]> {
  const section = findRepo(config, repoName).trust;
  const base = config.filepath ? dirname(config.filepath) : process.cwd();
  const keys: TrustedKey[] = [];
  for (const entry of section?.keys ?? []) {
    const where = `trusted key ${entry.name} of repository ${repoName}`;
    const info = await ('pem' in entry
      ? Promise.resolve(parsePublicKey(entry.pem, `${where} in ${config.filepath ?? 'model_repos.yaml'}`))
      : readPublicKey(isAbsolute(entry.path) ? entry.path : resolve(base, entry.path)).catch((error: unknown) => {
          throw error instanceof Error ? new ConfigError(`${where}: ${error.message}`, { hint: 'fix or remove it: `aim trust remove REPO NAME`' }) : error;
        }));
    keys.push({ name: entry.name, keyId: info.keyId, key: info.key });
  }
  return keys;
}

/**
 * Refuses `version` (IntegrityError, exit 4) unless the user's policy for its repository, or `requireSigned`, is
 * met: for commands that resolve a version themselves and then pull it by digest (install, update), called before
 * the pull so nothing lands under AIM_HOME.
 */
export async function enforceUserTrust(config: AimConfig, repository: Repository, version: ResolvedVersion, requireSigned = false): Promise<SignerReport[]> {
  return enforceTrust(repository, version, await trustPolicyFor(config, repository.name, requireSigned));
}
