import { canList } from '../../backends/backend.js';
import { digestHex, type Digest } from '../format/digest.js';
import { IntegrityError } from '../../lib/errors.js';
import { undefinedIfNotFound } from '../../lib/not-found.js';
import { getBounded } from '../store/bounded-read.js';
import type { Repository } from '../store/repository.js';
import { parseSignature, SIGNATURE_FORMAT, type ParsedSignature } from './bundle.js';

// Signatures sit beside the manifest they cover, one object per signer:
//
//   signatures/<hh>/<manifest hex>/<key id>.sig     a model-signing bundle (bundle.ts)
//
// The key is derived from the version, never the other way round: a bundle's own claims are read only after it
// passed its schema, and which key signed it is settled by checking the signature, not by its name.

const KEY_ID = /^[0-9a-f]{64}$/;
/** Signers of one version that are read; more is not a team signing, and the rest are reported unread. */
const MAX_SIGNERS = 64;

export function signaturesPrefix(manifest: Digest): string {
  const hex = digestHex(manifest);
  return `signatures/${hex.slice(0, 2)}/${hex}/`;
}

export function signatureKey(manifest: Digest, keyId: string): string {
  return `${signaturesPrefix(manifest)}${keyId}.sig`;
}

/** Stores (or replaces: a signer may sign again) the signature of `keyId` on version `manifest`. */
export async function putSignature(repo: Repository, manifest: Digest, keyId: string, bundle: Uint8Array): Promise<string> {
  const key = signatureKey(manifest, keyId);
  await repo.backend.put(key, bundle);
  return key;
}

export type StoredSignature = { key: string; signature: ParsedSignature } | { key: string; problem: string };

/**
 * Every signature object stored for version `manifest`, each parsed (bounded: a huge object is refused from its
 * size, unread) or with the plain reason it could not be. One bad object never hides the others.
 */
export async function readSignatures(repo: Repository, manifest: Digest, knownKeyIds: readonly string[] = []): Promise<StoredSignature[]> {
  const found: StoredSignature[] = [];
  const keyIds = await signatureKeyIds(repo, manifest, knownKeyIds);
  // Each object costs a read: a repository writer must not make a pull read without end.
  if (keyIds.length > MAX_SIGNERS) {
    found.push({ key: signaturesPrefix(manifest), problem: `${keyIds.length - MAX_SIGNERS} signature objects past the first ${MAX_SIGNERS} were not read` });
  }
  for (const keyId of keyIds.slice(0, MAX_SIGNERS)) {
    const key = signatureKey(manifest, keyId);
    const where = `${key} in ${repo.location}`;
    try {
      const bytes = await getBounded(repo.backend, key, SIGNATURE_FORMAT, where).catch(undefinedIfNotFound);
      if (bytes) found.push({ key, signature: parseSignature(bytes, where) });
    } catch (error) {
      // A damaged or hostile object is reported as what it is; a storage failure still stops the command.
      if (!(error instanceof IntegrityError)) throw error;
      found.push({ key, problem: error.message });
    }
  }
  return found;
}

/**
 * The key ids that stored a signature object for `manifest`, from the listing alone (nothing read or checked). A
 * store that cannot list (a web server) is asked for the signatures of the keys the caller knows, by name.
 */
export async function signatureKeyIds(repo: Repository, manifest: Digest, knownKeyIds: readonly string[] = []): Promise<string[]> {
  if (!canList(repo.backend)) return knownKeyIds.filter((id) => KEY_ID.test(id)).sort();
  const ids: string[] = [];
  for await (const { key } of repo.backend.list(signaturesPrefix(manifest))) {
    const name = key.slice(signaturesPrefix(manifest).length);
    if (name.endsWith('.sig') && KEY_ID.test(name.slice(0, -4))) ids.push(name.slice(0, -4));
  }
  return ids.sort();
}
