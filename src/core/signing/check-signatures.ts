import type { Digest } from '../format/digest.js';
import { modelNames, readableTags, type RepoProblem } from '../store/model-listing.js';
import type { Repository } from '../store/repository.js';
import { signersOf, type SignerReport, type TrustedKey } from './policy.js';

export interface VersionSignatures {
  model: string;
  tag: string;
  digest: Digest;
  signers: SignerReport[];
}

export interface SignatureCheck {
  versions: VersionSignatures[];
  /** Tags or models that could not be read; each is reported, the rest still checked. */
  problems: RepoProblem[];
}

/**
 * Who signed each tagged version in scope (one model, one tag, or the whole repository), every signature checked
 * against `keys` and against the version's files. Reads manifests and signatures, never chunks.
 */
export async function checkSignatures(repo: Repository, keys: readonly TrustedKey[], scope: { model?: string; tag?: string } = {}): Promise<SignatureCheck> {
  const problems: RepoProblem[] = [];
  const models = scope.model === undefined ? await modelNames(repo, problems) : [scope.model];
  const versions: VersionSignatures[] = [];
  for (const model of models) {
    for (const entry of await readableTags(repo, model, problems)) {
      if (scope.tag !== undefined && entry.tag !== scope.tag) continue;
      const manifest = await repo.getManifest(entry.digest);
      const signers = await signersOf(repo, { model, tag: entry.tag, digest: entry.digest, manifest }, keys);
      versions.push({ model, tag: entry.tag, digest: entry.digest, signers });
    }
  }
  return { versions, problems };
}

/** Whether a version's signatures are all fine: none damaged, forged or over other files. */
export function signaturesSound(version: VersionSignatures): boolean {
  return version.signers.every((signer) => signer.status === 'valid' || signer.status === 'untrusted');
}
