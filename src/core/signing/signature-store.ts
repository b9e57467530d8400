import { canList } from '../../backends/backend.js';
import { digestHex, type Digest } from '../format/digest.js';
import { IntegrityError } from '../../lib/errors.js';
import { counted } from '../../lib/plural.js';
import { undefinedIfNotFound } from '../../lib/not-found.js';
import { getBounded } from '../store/bounded-read.js';
import type { Repository } from '../store/repository.js';
import type { ResolvedVersion } from '../store/resolve.js';
import { parseSignature, signatureValid, SIGNATURE_FORMAT, type ParsedSignature } from './bundle.js';
import type { TrustedKey } from './keys.js';
import { resourcesMismatch } from './statement.js';

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
  const keyIds = knownFirst(await signatureKeyIds(repo, manifest, knownKeyIds), knownKeyIds);
  // Each object costs a read: a repository writer must not make a pull read without end.
  if (keyIds.length > MAX_SIGNERS) {
    found.push({ key: signaturesPrefix(manifest), problem: `${counted(keyIds.length - MAX_SIGNERS, 'signature object')} past the first ${MAX_SIGNERS} not read` });
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

/**
 * `ids` with those of `known` keys first: only so many signature objects are read, and objects planted under names
 * that sort first must not leave a trusted signer's signature unread.
 */
function knownFirst(ids: string[], known: readonly string[]): string[] {
  const wanted = new Set(known);
  return [...ids.filter((id) => wanted.has(id)), ...ids.filter((id) => !wanted.has(id))];
}

/** Signatures carried along with a version (export, copy) at most, as a repository reads at most that many. */
const MAX_CARRIED = MAX_SIGNERS;

export interface MatchingSignature {
  keyId: string;
  /** The stored object, byte for byte. */
  bytes: Buffer;
}

/**
 * The stored signatures of `version` that sign exactly its files, those of `preferred` keys first, for carrying
 * the version elsewhere (export, copy). Which key made each is not judged here: whoever reads the version later
 * checks it against their own trusted keys. But one naming a key of `trusted` must verify with it, as an import
 * demands: carried, a forgery would replace that signer's good signature where it lands. A damaged object, or one
 * that covers other files, is left behind with a note.
 */
export async function signaturesMatching(
  repo: Repository,
  version: ResolvedVersion,
  preferred: readonly string[],
  note: (why: string) => void,
  trusted: readonly TrustedKey[] = [],
): Promise<MatchingSignature[]> {
  const matching: MatchingSignature[] = [];
  // A store that cannot list (a web server) is asked for the preferred keys' signatures by name.
  for (const keyId of knownFirst(await signatureKeyIds(repo, version.digest, preferred), preferred).slice(0, MAX_CARRIED)) {
    const key = signatureKey(version.digest, keyId);
    const where = `${key} in ${repo.location}`;
    try {
      const bytes = await getBounded(repo.backend, key, SIGNATURE_FORMAT, where).catch(undefinedIfNotFound);
      if (!bytes) continue;
      const signature = parseSignature(bytes, where);
      const why = signature.keyId === keyId ? (resourcesMismatch(signature.resources, version.manifest) ?? forged(signature, trusted)) : 'it names another key';
      if (why) {
        note(`not carrying ${where}: ${why}`);
        continue;
      }
      matching.push({ keyId, bytes });
    } catch (error) {
      if (!(error instanceof IntegrityError)) throw error;
      note(`not carrying ${where}: ${error.message}`);
    }
  }
  return matching; // read in knownFirst's order: the preferred keys' first
}

/** Why a signature naming a key of `trusted` is not that key's, or undefined. */
function forged(signature: ParsedSignature, trusted: readonly TrustedKey[]): string | undefined {
  const key = trusted.find((candidate) => candidate.keyId === signature.keyId);
  return key && !signatureValid(signature, key.key) ? `it does not verify with the trusted key ${key.name}` : undefined;
}

/**
 * Stores beside the same version in `destination` every signature of `source` that signs exactly its files (and,
 * for a key of `trusted`, verifies with it), unless the destination holds one of that key it cannot check; those of
 * `trusted` keys are asked for by name on a source that cannot list.
 */
export async function copySignatures(source: Repository, destination: Repository, version: ResolvedVersion, trusted: readonly TrustedKey[], note: (why: string) => void): Promise<string[]> {
  const matching = await signaturesMatching(source, version, trusted.map((key) => key.keyId), note, trusted);
  for (const { keyId, bytes } of matching) {
    // One the destination already holds is replaced only by a signature checked here (a trusted key's): an unchecked
    // one may be a forgery standing in for a good signature that readers of the destination trust.
    if (trusted.some((key) => key.keyId === keyId)) await putSignature(destination, version.digest, keyId, bytes);
    else await destination.backend.putIfAbsent(signatureKey(version.digest, keyId), bytes);
  }
  return matching.map(({ keyId }) => keyId);
}
