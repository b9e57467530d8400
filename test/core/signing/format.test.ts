// The signature format, proved without the Python reference tool (it cannot be installed here): aim's bundles
// verify with sigstore-js's own verifier (@sigstore/verify, key-based trust material), their statement matches
// model-signing v1.0 field by field, and the reference tool's own v1.1.0 bundle (vendored in golden/, see
// SOURCE.md) parses with aim's reader, its subject digest is recomputed the same way and its DSSE signature
// verifies over aim's pre-authentication encoding.
import { createHash, createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { bundleFromJSON } from '@sigstore/bundle';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { describe, expect, it } from 'vitest';
import { digestFromHex } from '../../../src/core/format/digest.js';
import { MANIFEST_MEDIA_TYPE, type Manifest } from '../../../src/core/format/manifest.js';
import { BUNDLE_MEDIA_TYPE, keySigner, parseSignature, PAYLOAD_TYPE, preAuthEncoding, signatureValid, signStatement } from '../../../src/core/signing/bundle.js';
import { keyIdOf } from '../../../src/core/signing/keys.js';
import { resourcesMismatch, rootDigest, statementFor } from '../../../src/core/signing/statement.js';

const golden = (name: string) => readFileSync(new URL(`./golden/${name}`, import.meta.url));
const hex = (seed: string) => createHash('sha256').update(seed).digest('hex');

function manifestOf(files: Record<string, string>): Manifest {
  return {
    schemaVersion: 1,
    mediaType: MANIFEST_MEDIA_TYPE,
    annotations: {},
    files: Object.entries(files).map(([path, digest]) => ({ path, size: 1, mode: 0o644, digest: digestFromHex(digest), chunks: [] })),
  };
}

const EMPTY_ROOT = { mediaType: '', tlogs: [], certificateAuthorities: [], ctlogs: [], timestampAuthorities: [] } as any;

async function signedBundle(manifest: Manifest) {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const bytes = await signStatement(statementFor('llama', manifest), keySigner(privateKey));
  return { bytes, json: JSON.parse(bytes.toString()), publicKey, privateKey };
}

function sigstoreVerify(json: unknown, keys: Record<string, ReturnType<typeof createPublicKey>>) {
  const trust = toTrustMaterial(EMPTY_ROOT, (hint: string) => {
    const key = keys[hint];
    if (!key) throw new Error(`no key ${hint}`);
    return { publicKey: key, validFor: () => true };
  });
  // Offline key-based bundles carry no transparency log entry or timestamp, as model-signing's `sign key` writes them.
  return new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 }).verify(toSignedEntity(bundleFromJSON(json)));
}

describe('aim bundles', () => {
  const manifest = manifestOf({ 'weights/b.bin': hex('b'), 'a-b.txt': hex('a-b'), 'a/b.txt': hex('a/b'), 'config.json': hex('c') });

  it('verify with @sigstore/verify and key-based trust material', async () => {
    const { json, publicKey } = await signedBundle(manifest);
    const signer = sigstoreVerify(json, { [keyIdOf(publicKey)]: publicKey });
    expect(signer.key.export({ type: 'spki', format: 'der' })).toEqual(publicKey.export({ type: 'spki', format: 'der' }));
  });

  it('fail @sigstore/verify when the payload or the key differs', async () => {
    const { json, publicKey } = await signedBundle(manifest);
    const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey;
    expect(() => sigstoreVerify(json, { [keyIdOf(publicKey)]: other })).toThrow();
    const tampered = structuredClone(json);
    const statement = JSON.parse(Buffer.from(tampered.dsseEnvelope.payload, 'base64').toString());
    statement.predicate.resources[0].digest = hex('evil');
    tampered.dsseEnvelope.payload = Buffer.from(JSON.stringify(statement, null, 2)).toString('base64');
    expect(() => sigstoreVerify(tampered, { [keyIdOf(publicKey)]: publicKey })).toThrow();
  });

  it('hold the model-signing v1.0 statement, field by field', async () => {
    const { json, publicKey } = await signedBundle(manifest);
    expect(Object.keys(json)).toEqual(['mediaType', 'verificationMaterial', 'dsseEnvelope']);
    expect(json.mediaType).toBe('application/vnd.dev.sigstore.bundle.v0.3+json');
    // The hint is SHA-256 of the SPKI PEM, as the reference's sign_ec_key.py computes it.
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(json.verificationMaterial).toEqual({ publicKey: { hint: createHash('sha256').update(pem).digest('hex') }, tlogEntries: [] });
    expect(json.dsseEnvelope.payloadType).toBe('application/vnd.in-toto+json');
    expect(json.dsseEnvelope.signatures).toEqual([{ sig: expect.any(String), keyid: '' }]);
    const statement = JSON.parse(Buffer.from(json.dsseEnvelope.payload, 'base64').toString());
    expect(Object.keys(statement)).toEqual(['_type', 'subject', 'predicateType', 'predicate']);
    expect(statement._type).toBe('https://in-toto.io/Statement/v1');
    expect(statement.predicateType).toBe('https://model_signing/signature/v1.0');
    // Python's pathlib order: segment by segment, so a/b.txt sorts before a-b.txt.
    expect(statement.predicate.resources).toEqual([
      { name: 'a/b.txt', algorithm: 'blake3', digest: hex('a/b') },
      { name: 'a-b.txt', algorithm: 'blake3', digest: hex('a-b') },
      { name: 'config.json', algorithm: 'blake3', digest: hex('c') },
      { name: 'weights/b.bin', algorithm: 'blake3', digest: hex('b') },
    ]);
    const concatenated = Buffer.concat(statement.predicate.resources.map((r: { digest: string }) => Buffer.from(r.digest, 'hex')));
    expect(statement.subject).toEqual([{ name: 'llama', digest: { sha256: createHash('sha256').update(concatenated).digest('hex') } }]);
    expect(statement.predicate.serialization).toEqual({ method: 'files', hash_type: 'blake3', allow_symlinks: false, ignore_paths: ['.aim', '.git', '.gitattributes', '.github', '.gitignore', 'model.sig'] });
  });

  it('are checked against the version: a file changed, added or removed is a mismatch', () => {
    const signed = statementFor('m', manifest).predicate.resources;
    expect(resourcesMismatch(signed, manifest)).toBeUndefined();
    expect(resourcesMismatch(signed, manifestOf({ ...Object.fromEntries(manifest.files.map((f) => [f.path, f.digest.slice(7)])), 'config.json': hex('x') }))).toMatch(/other bytes for config.json/);
    expect(resourcesMismatch(signed, manifestOf({ 'a/b.txt': hex('a/b') }))).toMatch(/which this version does not have/);
    expect(resourcesMismatch(signed.slice(1), manifest)).toMatch(/does not sign a\/b.txt/);
  });
});

describe('the reference implementation\'s v1.1.0 bundle (golden)', () => {
  const bytes = golden('v1.1.0-elliptic-key/model.sig');
  const publicKey = createPublicKey(golden('signing-key-pub.pem'));

  it('parses with aim\'s reader, names its key by the same hint, and its subject digest is computed as aim computes it', () => {
    const parsed = parseSignature(bytes, 'golden model.sig');
    expect(parsed.keyId).toBe(keyIdOf(publicKey));
    const digests = ['signme-1', 'signme-2'].map((name) => createHash('sha256').update(golden(`v1.1.0-elliptic-key/${name}`)).digest('hex'));
    expect(parsed.resources).toEqual([
      { algorithm: 'sha256', name: 'signme-1', digest: digests[0] },
      { algorithm: 'sha256', name: 'signme-2', digest: digests[1] },
    ]);
    const statement = JSON.parse(Buffer.from(JSON.parse(bytes.toString()).dsseEnvelope.payload, 'base64').toString());
    expect(rootDigest(parsed.resources)).toBe(statement.subject[0].digest.sha256);
    // The same statement shape aim writes, but for the hash algorithm and the paths to ignore.
    const ours = statementFor('x', manifestOf({ 'signme-1': digests[0]!, 'signme-2': digests[1]! }));
    expect(Object.keys(statement).sort()).toEqual(Object.keys(ours).sort());
    expect(Object.keys(statement.predicate.serialization).sort()).toEqual(Object.keys(ours.predicate.serialization).sort());
    expect(statement.predicate.resources.map((r: object) => Object.keys(r).sort())).toEqual(ours.predicate.resources.map((r) => Object.keys(r).sort()));
  });

  it('has a DSSE signature that verifies over aim\'s pre-authentication encoding', () => {
    const json = JSON.parse(bytes.toString());
    expect(json.mediaType).toBe(BUNDLE_MEDIA_TYPE);
    expect(json.dsseEnvelope.payloadType).toBe(PAYLOAD_TYPE);
    const pae = preAuthEncoding(PAYLOAD_TYPE, Buffer.from(json.dsseEnvelope.payload, 'base64'));
    // A P-384 key signs over SHA-384 in the reference tool (@sigstore/verify 3.1 hashes every EC signature with
    // SHA-256, so it cannot check this one); aim itself signs and trusts P-256 keys only.
    expect(verify('sha384', pae, { key: publicKey, dsaEncoding: 'der' }, Buffer.from(json.dsseEnvelope.signatures[0].sig, 'base64'))).toBe(true);
    expect(signatureValid(parseSignature(bytes, 'golden'), publicKey)).toBe(false);
  });

});
