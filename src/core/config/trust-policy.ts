import { dirname, isAbsolute, resolve } from 'node:path';
import { ConfigError } from '../../lib/errors.js';
import { MAX_CONFIG_BYTES } from '../format/schemas/limits.js';
import { parseValue, type Format } from '../format/schemas/parse.js';
import { settingsTrustSchema, type TrustSection } from '../format/schemas/trust.js';
import { parsePublicKey, readPublicKey, type PublicKeyInfo } from '../signing/keys.js';
import { enforceTrust, type SignerReport, type TrustedKey, type TrustPolicy } from '../signing/policy.js';
import type { Repository } from '../store/repository.js';
import type { ResolvedVersion } from '../store/resolve.js';
import type { AimConfig } from './config.js';

// The user's trust policy for a repository comes from two places of model_repos.yaml: the repository's own `trust:`
// and the `trust:` block of the `aim:` settings (for every repository, or those it names). Both apply: signatures
// are required when either asks, and a key either trusts is trusted. Neither is ever read from the repository.

/** Where a part of the policy is written, as `aim trust list` shows it. */
export type PolicySource = 'repository' | 'settings';

interface PolicyPart {
  from: PolicySource;
  section: TrustSection;
}

const SETTINGS_FORMAT: Format = {
  what: 'trust block',
  // Already bounded: the whole file was read at most this big.
  maxBytes: MAX_CONFIG_BYTES,
  hint: 'fix the trust: block of the aim: section (require: signed, keys: [{name, path}], repositories: [NAME])',
  error: ConfigError,
};

/** The parts of the policy that apply to repository `repoName`, the repository's own first. */
function policyParts(config: AimConfig, repoName: string): PolicyPart[] {
  const parts: PolicyPart[] = [];
  const own = config.repositories.find((repo) => repo.name === repoName)?.trust;
  if (own) parts.push({ from: 'repository', section: own });
  const raw = typeof config.aimSection === 'object' && config.aimSection !== null ? (config.aimSection as Record<string, unknown>).trust : undefined;
  if (raw === undefined) return parts;
  const settings = parseValue(settingsTrustSchema, raw, SETTINGS_FORMAT, `aim.trust in ${config.filepath ?? 'model_repos.yaml'}`);
  if (settings.repositories === undefined || settings.repositories.includes(repoName)) parts.push({ from: 'settings', section: settings });
  return parts;
}

/** Whether the user's policy for `repoName` requires signatures (its own `trust:` or the settings' block). */
export function signaturesRequired(config: AimConfig, repoName: string): boolean {
  return policyParts(config, repoName).some((part) => part.section.require === 'signed');
}

/**
 * The trust policy of repository `repoName`, with every key read and checked (a file that is not a P-256 public key
 * is a ConfigError naming its entry). `requireSigned` (the `--require-signed` flag) asks for signatures even when
 * the file does not; undefined when there is nothing to enforce.
 */
export async function trustPolicyFor(config: AimConfig, repoName: string, requireSigned = false): Promise<TrustPolicy | undefined> {
  if (!requireSigned && !signaturesRequired(config, repoName)) return undefined;
  return { requireSigned: true, keys: await trustedKeys(config, repoName) };
}

/** The keys repository `repoName` trusts, from both places, read and checked; a key given twice counts once. */
export async function trustedKeys(config: AimConfig, repoName: string): Promise<Array<TrustedKey & { from: PolicySource }>> {
  const keys: Array<TrustedKey & { from: PolicySource }> = [];
  for (const { from, section } of policyParts(config, repoName)) {
    for (const entry of section.keys) {
      const where = from === 'repository' ? `trusted key ${entry.name} of repository ${repoName}` : `trusted key ${entry.name} of aim.trust`;
      const info = await readKeyEntry(config, entry, where);
      if (!keys.some((key) => key.keyId === info.keyId)) keys.push({ name: entry.name, keyId: info.keyId, key: info.key, from });
    }
  }
  return keys;
}

/** The key a `trust:` entry names (its pem, or the file at its path, relative to model_repos.yaml), read and checked. */
export async function readKeyEntry(config: AimConfig, entry: TrustSection['keys'][number], where: string): Promise<PublicKeyInfo> {
  if ('pem' in entry) return parsePublicKey(entry.pem, `${where} in ${config.filepath ?? 'model_repos.yaml'}`);
  const base = config.filepath ? dirname(config.filepath) : process.cwd();
  return readPublicKey(isAbsolute(entry.path) ? entry.path : resolve(base, entry.path)).catch((error: unknown) => {
    throw error instanceof Error ? new ConfigError(`${where}: ${error.message}`, { hint: 'fix or remove it: `aim trust remove REPO NAME`, or edit the aim: trust block' }) : error;
  });
}

/**
 * Refuses `version` (IntegrityError, exit 4) unless the user's policy for its repository, or `requireSigned`, is
 * met: for commands that resolve a version themselves and then pull it by digest (install, update), called before
 * the pull so nothing lands under AIM_HOME.
 */
export async function enforceUserTrust(config: AimConfig, repository: Repository, version: ResolvedVersion, requireSigned = false): Promise<SignerReport[]> {
  return enforceTrust(repository, version, await trustPolicyFor(config, repository.name, requireSigned));
}
