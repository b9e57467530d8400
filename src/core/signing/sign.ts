import { join } from 'node:path';
import { writeAtomic } from '../../lib/atomic-write.js';
import type { Digest } from '../format/digest.js';
import type { Repository } from '../store/repository.js';
import { resolveVersion, type ResolvedVersion, type VersionSelector } from '../store/resolve.js';
import { signStatement, type Signer } from './bundle.js';
import { putSignature } from './signature-store.js';
import { statementFor } from './statement.js';

export interface SignResult {
  repo: string;
  model: string;
  tag?: string;
  digest: Digest;
  keyId: string;
  /** Where the signature was stored in the repository. */
  stored: string;
  /** DIR/model.sig, when asked for. */
  exported?: string;
}

/** A model-signing bundle over `version`'s files, made with `signer`; no network, no pass over the data. */
export async function signatureFor(version: ResolvedVersion, signer: Signer): Promise<Buffer> {
  return signStatement(statementFor(version.model, version.manifest), signer);
}

/** Signs the version `selector` names and stores the bundle beside its manifest; optionally also as DIR/model.sig. */
export async function signVersion(repo: Repository, selector: VersionSelector, signer: Signer, exportTo?: string): Promise<SignResult> {
  const version = await resolveVersion(repo, selector);
  return storeSignature(repo, version, signer, exportTo);
}

export async function storeSignature(repo: Repository, version: ResolvedVersion, signer: Signer, exportTo?: string): Promise<SignResult> {
  const bundle = await signatureFor(version, signer);
  const keyId = signer.verificationMaterial().publicKey.hint;
  const stored = await putSignature(repo, version.digest, keyId, bundle);
  const exported = exportTo === undefined ? undefined : join(exportTo, 'model.sig');
  if (exported) await writeAtomic(exported, bundle);
  return { repo: repo.name, model: version.model, tag: version.tag, digest: version.digest, keyId, stored, exported };
}
