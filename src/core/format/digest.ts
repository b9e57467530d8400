import { nativeBlake3 } from '../hashing/blake3-native.js';
import { IntegrityError, UsageError } from '../../lib/errors.js';

// A digest is parsed once at the boundary and then travels as this branded type, never as a bare string.
declare const digestBrand: unique symbol;
export type Digest = string & { readonly [digestBrand]: true };

const DIGEST_PATTERN = /^blake3:[0-9a-f]{64}$/;

export function isDigest(value: unknown): value is Digest {
  return typeof value === 'string' && DIGEST_PATTERN.test(value);
}

export function parseDigest(value: string, where = 'digest'): Digest {
  if (!isDigest(value)) {
    throw new UsageError(`${where}: "${value}" is not a digest`, { hint: 'a digest is blake3: followed by 64 lowercase hex characters' });
  }
  return value;
}

export function digestHex(digest: Digest): string {
  return digest.slice('blake3:'.length);
}

export function shortDigest(digest: Digest): string {
  return digestHex(digest).slice(0, 12);
}

export function digestFromHex(hex: string): Digest {
  return parseDigest(`blake3:${hex}`);
}

type Hasher = Awaited<ReturnType<typeof import('hash-wasm').createBLAKE3>>;

// hash-wasm loads on first use so that listings and `--version` do not pay for compiling WASM.
async function createBLAKE3(): Promise<Hasher> {
  const { createBLAKE3: create } = await import('hash-wasm');
  return create();
}
let shared: Hasher | undefined;

/** BLAKE3-256 of bytes already in memory (chunks, manifests, tags): native when it loads, else one reused WASM instance. */
export async function digestOf(bytes: Uint8Array): Promise<Digest> {
  const native = nativeBlake3();
  if (native) return digestFromHex(native.hex(bytes));
  shared ??= await createBLAKE3();
  shared.init();
  shared.update(bytes);
  return digestFromHex(shared.digest('hex'));
}

export async function createDigester(): Promise<{ update(bytes: Uint8Array): void; digest(): Digest }> {
  const native = nativeBlake3()?.hasher();
  if (native) return { update: (bytes) => native.update(bytes), digest: () => digestFromHex(native.hex()) };
  const hasher = await createBLAKE3();
  hasher.init();
  return {
    update: (bytes) => void hasher.update(bytes),
    digest: () => digestFromHex(hasher.digest('hex')),
  };
}

export async function assertDigest(bytes: Uint8Array, expected: Digest, what: string): Promise<void> {
  const actual = await digestOf(bytes);
  if (actual !== expected) {
    throw new IntegrityError(`${what} is corrupt: expected ${expected}, got ${actual}`, {
      hint: 'run `aim verify` on the repository; push the version again from a good copy to repair it',
    });
  }
}
