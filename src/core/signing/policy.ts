import { IntegrityError } from '../../lib/errors.js';
import { someOf } from '../../lib/plural.js';
import { shortDigest } from '../format/digest.js';
import type { Repository } from '../store/repository.js';
import type { ResolvedVersion } from '../store/resolve.js';
import { signatureValid } from './bundle.js';
import { readSignatures } from './signature-store.js';
import { resourcesMismatch } from './statement.js';
import type { TrustedKey } from './keys.js';

// The trust policy lives with the user (model_repos.yaml or a flag), never in the repository, whose writers are
// who it guards against: they can move a tag, replace files or copy signatures, but not sign with a trusted key.

export type { TrustedKey };

export interface TrustPolicy {
  /** Refuse a version that no trusted key validly signed. */
  requireSigned: boolean;
  keys: TrustedKey[];
}

export type SignerStatus = 'valid' | 'untrusted' | 'bad-signature' | 'other-files' | 'corrupt';

export interface SignerReport {
  /** The key id the bundle names (undefined when the object did not parse). */
  keyId?: string;
  /** The trusted key's name, when the key id is one the user trusts. */
  name?: string;
  status: SignerStatus;
  /** Why a signature does not count, in words. */
  why?: string;
  key: string;
}

/**
 * Who signed `version`, each signature judged against `keys`: valid only when a trusted key made it and what it
 * signs is this version's files exactly. An untrusted key's signature is still checked against the files, so
 * `inspect` can say whether it would match.
 */
export async function signersOf(repo: Repository, version: ResolvedVersion, keys: readonly TrustedKey[]): Promise<SignerReport[]> {
  const reports: SignerReport[] = [];
  for (const stored of await readSignatures(repo, version.digest, keys.map((key) => key.keyId))) {
    if ('problem' in stored) {
      reports.push({ key: stored.key, status: 'corrupt', why: stored.problem });
      continue;
    }
    const { signature } = stored;
    const trusted = keys.find((candidate) => candidate.keyId === signature.keyId);
    const mismatch = resourcesMismatch(signature.resources, version.manifest);
    const base = { key: stored.key, keyId: signature.keyId, name: trusted?.name };
    if (trusted && !signatureValid(signature, trusted.key)) reports.push({ ...base, status: 'bad-signature', why: 'the signature does not verify with that key' });
    else if (mismatch) reports.push({ ...base, status: 'other-files', why: mismatch });
    else reports.push({ ...base, status: trusted ? 'valid' : 'untrusted', why: trusted ? undefined : 'the key is not trusted' });
  }
  return reports;
}

export function describeSigner(report: SignerReport): string {
  const who = report.name ? `${report.name} (${report.keyId!.slice(0, 16)})` : report.keyId ? `key ${report.keyId.slice(0, 16)}` : report.key;
  return report.status === 'valid' ? `${who}: valid` : `${who}: ${report.why ?? report.status}`;
}

/** Signatures found and keys trusted named in a refusal, each list cut after this many. */
const SHOWN_IN_REFUSAL = 5;

/**
 * Throws IntegrityError (exit 4) unless a trusted key validly signed `version`; called before any byte of the
 * version lands under a final name. The manifest's file digests are what the signature covers, and pull checks
 * every file against them as it arrives, so this costs no extra pass over the data.
 */
export async function enforceTrust(repo: Repository, version: ResolvedVersion, policy: TrustPolicy | undefined): Promise<SignerReport[]> {
  if (!policy?.requireSigned) return [];
  const reports = await signersOf(repo, version, policy.keys);
  if (reports.some((report) => report.status === 'valid')) return reports;
  const name = `${repo.name}/${version.model}${version.tag ? `:${version.tag}` : ''} (${shortDigest(version.digest)})`;
  // A repository may hold dozens of signature objects and a policy many keys: a few of each keep the line readable.
  const found = reports.length === 0 ? 'no signature' : someOf(reports.map(describeSigner), SHOWN_IN_REFUSAL, '; ');
  const trusted = policy.keys.length === 0 ? 'none' : someOf(policy.keys.map((key) => `${key.name} (${key.keyId.slice(0, 16)})`), SHOWN_IN_REFUSAL);
  throw new IntegrityError(`refusing ${name}: no trusted key signed it. Found: ${found}. Trusted: ${trusted}`, {
    hint: `have a trusted signer run \`aim sign ${repo.name}/${version.model}@${version.digest} --key KEY\`, or add their key with \`aim trust add ${repo.name} KEY.pub --name NAME\``,
  });
}
