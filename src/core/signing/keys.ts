import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { link, lstat, open, unlink } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { syncFolder, tempPathFor } from '../../lib/atomic-write.js';
import { ConfigError, ConflictError, NotFoundError, UsageError } from '../../lib/errors.js';
import { fsError } from '../../lib/fs-errors.js';
import { readRegularFile } from '../../lib/safe-fs.js';

// Keys are EC P-256, as model-signing's "key" method and Sigstore's bundles name them: private keys PKCS#8 PEM,
// public keys SPKI PEM. A key's id (the bundle's `publicKey.hint`) is the SHA-256 of its SPKI PEM text, as the
// reference tool computes it, so a bundle names its signer the same way in aim and in model_signing.

/** A public key the user trusts, under the name they gave it. */
export interface TrustedKey {
  name: string;
  keyId: string;
  key: KeyObject;
}

/** The curve a trusted or signing key must use; other curves and RSA are refused rather than half-supported. */
const CURVE = 'prime256v1';

export interface PublicKeyInfo {
  key: KeyObject;
  /** SHA-256 hex of the SPKI PEM: the id bundles carry. */
  keyId: string;
  pem: string;
}

/** The id of a public key, or of a private key's public half. */
export function keyIdOf(key: KeyObject): string {
  const pem = (key.type === 'private' ? createPublicKey(key) : key).export({ type: 'spki', format: 'pem' }).toString();
  return createHash('sha256').update(pem).digest('hex');
}

function isP256(key: KeyObject): boolean {
  return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === CURVE;
}

/** `pem` as a P-256 public key, or a ConfigError naming `where` (a policy key that is anything else is refused). */
export function parsePublicKey(pem: string, where: string): PublicKeyInfo {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch {
    throw new ConfigError(`${where} is not a PEM public key`, { hint: 'give the NAME.pub that `aim key generate NAME` wrote' });
  }
  if (key.type !== 'public' || !isP256(key)) {
    throw new ConfigError(`${where} is not an EC P-256 public key`, { hint: 'aim signs and checks with P-256 keys only: `aim key generate NAME`' });
  }
  const spki = key.export({ type: 'spki', format: 'pem' }).toString();
  return { key, keyId: keyIdOf(key), pem: spki };
}

export async function readPublicKey(path: string): Promise<PublicKeyInfo> {
  return parsePublicKey((await readKeyFile(path, 'public key')).toString('utf8'), path);
}

/** The P-256 private key in `path` (PKCS#8 or SEC1 PEM, unencrypted). */
export async function readPrivateKey(path: string): Promise<KeyObject> {
  const pem = await readKeyFile(path, 'private key');
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    throw new UsageError(`${path} is not an unencrypted PEM private key`, { hint: 'give the NAME.key that `aim key generate NAME` wrote' });
  }
  if (!isP256(key)) throw new UsageError(`${path} is not an EC P-256 private key`, { hint: 'aim signs with P-256 keys only: `aim key generate NAME`' });
  return key;
}

/** A PEM key is a few hundred bytes: a larger file is not one and is not read. */
const MAX_KEY_FILE_BYTES = 64 * 1024;

async function readKeyFile(path: string, what: string): Promise<Buffer> {
  return readRegularFile(path, MAX_KEY_FILE_BYTES).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') throw new NotFoundError(`${what} ${path} not found`, { hint: 'check the path, or make a key pair with `aim key generate NAME`' });
    throw fsError(error, { path });
  });
}

export interface GeneratedKey {
  privateKeyPath: string;
  publicKeyPath: string;
  keyId: string;
}

/**
 * Writes NAME.key (mode 0600) and NAME.pub, both or neither, and never over an existing file. Both names are checked
 * first and the private key is taken back if the public one cannot be written: a new NAME.key beside an older
 * NAME.pub would be a pair that does not match, and the .pub already handed out would not verify what it signs.
 */
export async function generateKey(name: string): Promise<GeneratedKey> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: CURVE });
  const privateKeyPath = `${name}.key`;
  const publicKeyPath = `${name}.pub`;
  for (const path of [privateKeyPath, publicKeyPath]) await refuseExisting(path);
  await writeNew(privateKeyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), 0o600);
  try {
    await writeNew(publicKeyPath, publicKey.export({ type: 'spki', format: 'pem' }).toString(), 0o644);
  } catch (error) {
    await unlink(privateKeyPath).catch(() => undefined);
    throw error;
  }
  await syncFolder(dirname(resolve(privateKeyPath)));
  return { privateKeyPath, publicKeyPath, keyId: keyIdOf(publicKey) };
}

const existing = (path: string): ConflictError => new ConflictError(`${path} already exists`, { hint: 'pick another NAME, or move the old key away first' });
const KEY_FOLDER_HINT = 'write the key into a folder you can write to';

async function refuseExisting(path: string): Promise<void> {
  const found = await lstat(path).then(
    () => true,
    (error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? false : Promise.reject(fsError(error, { path, writableHint: KEY_FOLDER_HINT }))),
  );
  if (found) throw existing(path);
}

/**
 * A new file, whole or not at all: written and synced under a temp name beside it, then linked to its name, which
 * link(2) refuses if anything is there (a link planted since the check included). Ctrl-C midway leaves no key cut
 * short under the final name.
 */
async function writeNew(path: string, text: string, mode: number): Promise<void> {
  const temp = tempPathFor(path);
  const handle = await open(temp, 'wx', mode).catch((error: NodeJS.ErrnoException) => {
    throw fsError(error, { path, writableHint: KEY_FOLDER_HINT });
  });
  try {
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await link(temp, path).catch((error: NodeJS.ErrnoException) => {
      throw error.code === 'EEXIST' ? existing(path) : fsError(error, { path, writableHint: KEY_FOLDER_HINT });
    });
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}
