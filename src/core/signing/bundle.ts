import { sign as signBytes, verify as verifyBytes, type KeyObject } from 'node:crypto';
import * as v from 'valibot';
import { corrupt, parseJson, parseJsonText, parseValue, text, type Format } from '../format/schemas/parse.js';
import { MAX_MANIFEST_FILES } from '../format/schemas/limits.js';
import { keyIdOf } from './keys.js';
import { PREDICATE_TYPE, rootDigest, STATEMENT_TYPE, type ModelStatement, type Resource } from './statement.js';

// A signature is a Sigstore bundle v0.3 holding a DSSE envelope over the statement (statement.ts), as
// model-signing's "key" method writes it: verificationMaterial.publicKey.hint names the key, no transparency log
// entries. Anything read back is hostile until it passed the schemas below and its signature checked.

export const BUNDLE_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
export const PAYLOAD_TYPE = 'application/vnd.in-toto+json';

/** ~200 bytes per file once base64-encoded: room for 80,000 files; a larger object is refused unread. */
export const SIGNATURE_FORMAT: Format = {
  what: 'signature',
  maxBytes: 16 * 1024 * 1024,
  hint: 'a repository writer can replace signatures: sign the version again (`aim sign`) or ask who wrote this one',
};

/**
 * What signs a statement. A key on disk now; keyless Sigstore signing (an OIDC identity, a Fulcio certificate and a
 * Rekor entry) needs the network and would implement the same shape, with a certificate in place of the hint.
 */
export interface Signer {
  /** The verification material the bundle carries for this signer. */
  verificationMaterial(): { publicKey: { hint: string }; tlogEntries: [] };
  sign(data: Buffer): Promise<Buffer>;
}

export function keySigner(privateKey: KeyObject): Signer {
  const hint = keyIdOf(privateKey);
  return {
    verificationMaterial: () => ({ publicKey: { hint }, tlogEntries: [] }),
    // ECDSA over SHA-256, DER-encoded: what DSSE signatures of P-256 keys hold.
    sign: async (data) => signBytes('sha256', data, { key: privateKey, dsaEncoding: 'der' }),
  };
}

/** DSSE's pre-authentication encoding: what is really signed, so the payload type cannot be swapped. */
export function preAuthEncoding(payloadType: string, payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`DSSEv1 ${Buffer.byteLength(payloadType)} ${payloadType} ${payload.length} `), payload]);
}

export async function signStatement(statement: ModelStatement, signer: Signer): Promise<Buffer> {
  const payload = Buffer.from(JSON.stringify(statement, null, 2));
  const sig = await signer.sign(preAuthEncoding(PAYLOAD_TYPE, payload));
  const bundle = {
    mediaType: BUNDLE_MEDIA_TYPE,
    verificationMaterial: signer.verificationMaterial(),
    dsseEnvelope: { payload: payload.toString('base64'), payloadType: PAYLOAD_TYPE, signatures: [{ sig: sig.toString('base64'), keyid: '' }] },
  };
  return Buffer.from(`${JSON.stringify(bundle)}\n`);
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const base64 = (max: number) => v.pipe(v.string(), v.maxLength(max, 'is too long'), v.regex(BASE64, 'is not base64'));
const hex64 = v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/, 'is not 64 lowercase hex'));

const bundleSchema = v.object({
  mediaType: v.literal(BUNDLE_MEDIA_TYPE),
  verificationMaterial: v.object({ publicKey: v.object({ hint: hex64 }) }),
  dsseEnvelope: v.object({
    payload: base64(SIGNATURE_FORMAT.maxBytes),
    payloadType: v.literal(PAYLOAD_TYPE),
    signatures: v.pipe(v.array(v.object({ sig: base64(1024) })), v.length(1, 'must hold exactly one signature')),
  }),
});

const resourceSchema = v.object({ name: text(4096), algorithm: text(32), digest: v.pipe(v.string(), v.regex(/^[0-9a-f]{1,128}$/, 'is not hex')) });

const statementSchema = v.object({
  _type: v.literal(STATEMENT_TYPE),
  subject: v.pipe(v.array(v.object({ name: text(), digest: v.object({ sha256: hex64 }) })), v.length(1, 'must name one model')),
  predicateType: v.literal(PREDICATE_TYPE),
  predicate: v.object({
    serialization: v.looseObject({ method: v.literal('files', 'only the "files" serialization is read') }),
    resources: v.pipe(v.array(resourceSchema), v.maxLength(MAX_MANIFEST_FILES, 'lists too many files')),
  }),
});

export interface ParsedSignature {
  keyId: string;
  resources: Resource[];
  /** The bytes the signature covers, and the signature itself. */
  signed: Buffer;
  sig: Buffer;
}

/** A bundle's bytes checked down to its statement, or the signature format's error naming `where`. */
export function parseSignature(bytes: Uint8Array, where: string): ParsedSignature {
  const bundle = parseJson(bundleSchema, bytes, SIGNATURE_FORMAT, where);
  const envelope = bundle.dsseEnvelope;
  const payload = Buffer.from(envelope.payload, 'base64');
  const statement = parseValue(statementSchema, parseJsonText(payload, SIGNATURE_FORMAT, where), SIGNATURE_FORMAT, where);
  const { resources } = statement.predicate;
  if (rootDigest(resources) !== statement.subject[0].digest.sha256) {
    throw corrupt(SIGNATURE_FORMAT, where, "the subject's digest does not match the files it lists");
  }
  return {
    keyId: bundle.verificationMaterial.publicKey.hint,
    resources,
    signed: preAuthEncoding(envelope.payloadType, payload),
    sig: Buffer.from(envelope.signatures[0]!.sig, 'base64'),
  };
}

/** Whether `key` made this signature. */
export function signatureValid(signature: ParsedSignature, key: KeyObject): boolean {
  try {
    return verifyBytes('sha256', signature.signed, { key, dsaEncoding: 'der' }, signature.sig);
  } catch {
    return false;
  }
}
