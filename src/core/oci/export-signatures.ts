import { BUNDLE_MEDIA_TYPE } from '../signing/bundle.js';
import { signaturesMatching, type MatchingSignature } from '../signing/signature-store.js';
import { PREDICATE_TYPE } from '../signing/statement.js';
import type { TrustedKey } from '../signing/keys.js';
import type { Repository } from '../store/repository.js';
import type { ResolvedVersion } from '../store/resolve.js';
import { FILEPATH, OCI_EMPTY, OCI_MANIFEST, OCI_TITLE } from './media-types.js';
import type { Blob } from './modelpack.js';
import { sha256Of, type Sha256 } from './oci-schemas.js';

// The signatures of an exported version travel with it twice, as model-signing and OCI tools each look for them:
// as a `model.sig` layer of the model artifact (what the reference tool reads beside a model's files; it leaves
// model.sig out of what it signs), and as OCI 1.1 referrers, one small manifest per signature whose `subject` is
// the model manifest (what cosign, oras and registries' referrers API list).

export const SIGNATURE_FILE = 'model.sig';

export interface CarriedSignature extends MatchingSignature {
  blob: Blob;
}

/**
 * The stored signatures of `version` that sign exactly its files, as OCI blobs, those of `trusted` keys first (the
 * first becomes model.sig: a key the exporter trusts before one they do not know). One naming a trusted key must
 * verify with it: carried, a forgery would stand for that signer wherever the layout is imported or pulled from.
 */
export async function signaturesToCarry(repo: Repository, version: ResolvedVersion, trusted: readonly TrustedKey[], note: (why: string) => void): Promise<CarriedSignature[]> {
  const annotations = { [FILEPATH]: SIGNATURE_FILE, [OCI_TITLE]: SIGNATURE_FILE };
  const preferred = trusted.map((key) => key.keyId);
  return (await signaturesMatching(repo, version, preferred, note, trusted)).map((signature) => ({
    ...signature,
    blob: { mediaType: BUNDLE_MEDIA_TYPE, digest: sha256Of(signature.bytes), size: signature.bytes.length, annotations },
  }));
}

/** OCI's empty descriptor: the config of an artifact that has none. */
export const EMPTY_CONFIG = Buffer.from('{}');
export const EMPTY_BLOB: Blob = { mediaType: OCI_EMPTY, digest: sha256Of(EMPTY_CONFIG), size: EMPTY_CONFIG.length };

/** A referrer: the signature as the one layer of an artifact whose subject is the model manifest. */
export function referrerManifest(signature: CarriedSignature, subject: Blob): object {
  return {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: BUNDLE_MEDIA_TYPE,
    config: EMPTY_BLOB,
    layers: [signature.blob],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    annotations: { 'dev.sigstore.bundle.content': 'dsse-envelope', 'dev.sigstore.bundle.predicateType': PREDICATE_TYPE },
  };
}

/** Where the signatures' blobs and referrers go, and the index entries naming the referrers. */
export interface SignatureWriter {
  addBytes(name: string, bytes: Buffer): Promise<number>;
}

/**
 * Writes each signature's blob (once, whatever names it), the empty config, and one referrer manifest per signature
 * naming `subject`; returns the index.json entries of the referrers.
 */
export async function writeReferrers(writer: SignatureWriter, signatures: readonly CarriedSignature[], subject: Blob, blobName: (digest: Sha256) => string, written: Set<string>): Promise<Blob[]> {
  const once = async (digest: Sha256, bytes: Buffer): Promise<void> => {
    if (written.has(digest)) return;
    written.add(digest);
    await writer.addBytes(blobName(digest), bytes);
  };
  const entries: Blob[] = [];
  for (const signature of signatures) {
    await once(signature.blob.digest, signature.bytes);
    await once(EMPTY_BLOB.digest, EMPTY_CONFIG);
    const bytes = Buffer.from(JSON.stringify(referrerManifest(signature, subject)));
    const digest = sha256Of(bytes);
    await once(digest, bytes);
    entries.push({ mediaType: OCI_MANIFEST, digest, size: bytes.length, artifactType: BUNDLE_MEDIA_TYPE });
  }
  return entries;
}

/**
 * Writes the model.sig layer's blob (the first signature) unless the version holds a file of that name, which then
 * keeps it: its signatures travel as referrers only. Returns the layer's descriptor.
 */
export async function writeSignatureLayer(writer: SignatureWriter, paths: readonly string[], signatures: readonly CarriedSignature[], blobName: (digest: Sha256) => string, written: Set<string>): Promise<Blob | undefined> {
  const first = signatures[0];
  if (!first || paths.includes(SIGNATURE_FILE)) return undefined;
  if (!written.has(first.blob.digest)) await writer.addBytes(blobName(first.blob.digest), first.bytes);
  written.add(first.blob.digest);
  return first.blob;
}
