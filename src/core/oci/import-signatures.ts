import * as v from 'valibot';
import { IntegrityError } from '../../lib/errors.js';
import { parseJson, type Format } from '../format/schemas/parse.js';
import { BUNDLE_MEDIA_TYPE, parseSignature, SIGNATURE_FORMAT, signatureValid } from '../signing/bundle.js';
import type { TrustedKey } from '../signing/policy.js';
import { putSignature } from '../signing/signature-store.js';
import { resourcesMismatch } from '../signing/statement.js';
import type { Repository } from '../store/repository.js';
import type { ResolvedVersion } from '../store/resolve.js';
import type { LayoutSource } from './layout-source.js';
import type { ImportPlan } from './import-plan.js';
import { descriptorSchema } from './oci-schemas.js';

// The signatures an OCI layout carries for the model it holds (export-signatures.ts writes them): model.sig layers
// and referrer manifests. The layout comes from anyone, so a signature is stored beside the imported version only
// when it signs exactly the imported files (and, for a key the user trusts, verifies with it); anything else is a
// warning and is dropped, never a reason to lose the model. Pull under a policy checks every signature again.

/** Signatures read from one layout at most: each is a read, and a team is not this many signers. */
const MAX_SIGNATURES = 64;
/** A referrer names one bundle: a few hundred bytes; a bigger manifest is refused from its descriptor, unread. */
const REFERRER_FORMAT: Format = { what: 'referrer manifest', maxBytes: 64 * 1024, hint: 'the layout is damaged or hostile; the signature was dropped' };
const referrerSchema = v.object({
  artifactType: v.optional(v.string()),
  layers: v.pipe(v.array(descriptorSchema), v.maxLength(16, 'lists more than 16 layers')),
  subject: v.optional(descriptorSchema),
});

export interface CarriedBundle {
  from: string;
  bytes: Buffer;
}

export interface ImportedSignatures {
  /** Key ids whose signatures were stored beside the imported version. */
  stored: string[];
  /** Why each dropped signature was dropped, one line each. */
  warnings: string[];
}

/** Every signature bundle the layout carries for the model manifest, read bounded; what cannot be read is a warning. */
export async function carriedSignatures(source: LayoutSource, plan: ImportPlan): Promise<{ bundles: CarriedBundle[]; warnings: string[] }> {
  const bundles: CarriedBundle[] = [];
  const warnings: string[] = [];
  const readings = [
    ...plan.signatureLayers.map((layer) => ({ from: `model.sig layer ${layer.digest} of ${source.where}`, read: () => source.readBlob(layer, SIGNATURE_FORMAT.maxBytes) })),
    ...plan.referrers.map((referrer) => ({ from: `referrer ${referrer.digest} of ${source.where}`, read: () => referredBundle(source, plan, referrer) })),
  ];
  if (readings.length > MAX_SIGNATURES) warnings.push(`${source.where}: ${readings.length - MAX_SIGNATURES} signatures past the first ${MAX_SIGNATURES} were not read`);
  for (const { from, read } of readings.slice(0, MAX_SIGNATURES)) {
    try {
      bundles.push({ from, bytes: await read() });
    } catch (error) {
      if (!(error instanceof IntegrityError)) throw error;
      warnings.push(`dropped the signature in ${from}: ${error.message}`);
    }
  }
  return { bundles, warnings };
}

async function referredBundle(source: LayoutSource, plan: ImportPlan, referrer: ImportPlan['referrers'][number]): Promise<Buffer> {
  const where = `${source.where} referrer ${referrer.digest}`;
  if (referrer.size > REFERRER_FORMAT.maxBytes) throw new IntegrityError(`${where} is ${referrer.size} bytes, more than the ${REFERRER_FORMAT.maxBytes} a referrer may hold`);
  const manifest = parseJson(referrerSchema, await source.readBlob(referrer, REFERRER_FORMAT.maxBytes), REFERRER_FORMAT, where);
  if (manifest.subject?.digest !== plan.manifestDigest) {
    throw new IntegrityError(`${where} refers to ${manifest.subject?.digest ?? 'no manifest'}, not the model ${plan.manifestDigest}`);
  }
  const layer = manifest.layers.find((candidate) => candidate.mediaType === BUNDLE_MEDIA_TYPE);
  if (!layer) throw new IntegrityError(`${where} holds no ${BUNDLE_MEDIA_TYPE} layer`);
  return source.readBlob(layer, SIGNATURE_FORMAT.maxBytes);
}

/**
 * Stores each bundle that signs exactly `version`'s files beside it (one per key); a bundle of a key in `keys` must
 * also verify with it. The rest are dropped with the reason.
 */
export async function storeCarriedSignatures(repo: Repository, version: ResolvedVersion, bundles: readonly CarriedBundle[], keys: readonly TrustedKey[]): Promise<ImportedSignatures> {
  const result: ImportedSignatures = { stored: [], warnings: [] };
  for (const { from, bytes } of bundles) {
    let why: string | undefined;
    try {
      const signature = parseSignature(bytes, from);
      const trusted = keys.find((key) => key.keyId === signature.keyId);
      why = resourcesMismatch(signature.resources, version.manifest) ?? (trusted && !signatureValid(signature, trusted.key) ? `it does not verify with the trusted key ${trusted.name}` : undefined);
      if (why === undefined && !result.stored.includes(signature.keyId)) {
        await putSignature(repo, version.digest, signature.keyId, bytes);
        result.stored.push(signature.keyId);
      }
    } catch (error) {
      if (!(error instanceof IntegrityError)) throw error;
      why = error.message;
    }
    if (why !== undefined) result.warnings.push(`dropped the signature in ${from}: ${why}`);
  }
  return result;
}
