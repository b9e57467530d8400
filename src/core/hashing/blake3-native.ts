import { createRequire } from 'node:module';
import { hashBackend } from '../../settings/runtime.js';

// BLAKE3 through @napi-rs/blake-hash: the Rust reference implementation with SIMD, shipped as a prebuilt binary
// inside an npm package; the accelerator. hash-wasm is the portable default the design names: the same digests,
// used where no binary exists for the platform, or with AIM_HASH=wasm.
//
// Kept because measurement justifies it (`node bench/hash-paths.mjs`, 1 GiB of random data, 1 MiB chunks, three
// alternating rounds on the shared 2-core VM; docs/benchmarks.md, "Hashing paths"):
//   chunk + whole-file hashing on one core, from memory:  native 2268 / 2705 / 2713 MB/s, hash-wasm 172 / 295 / 268
//   `aim push --rehash` (read, cut, hash, look up; no write): native 1.28-3.07 s, hash-wasm 5.34-8.01 s
// About ten times the throughput on one core, and two to five times faster pushes; it stays.

export interface NativeBlake3 {
  /** BLAKE3-256 of `bytes`, as 64 hex characters. */
  hex(bytes: Uint8Array): string;
  /** An incremental hasher for a whole file. */
  hasher(): { update(bytes: Uint8Array): void; hex(): string };
}

interface BlakeHashModule {
  blake3(input: Uint8Array): Buffer;
  Blake3Hasher: new () => { update(input: Buffer): unknown; digest(format: 'hex'): string };
}

let loaded: NativeBlake3 | null | undefined;

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The native implementation, or undefined when it cannot load here (or AIM_HASH=wasm asks for hash-wasm). */
export function nativeBlake3(): NativeBlake3 | undefined {
  if (loaded !== undefined) return loaded ?? undefined;
  loaded = null;
  if (hashBackend() === 'wasm') return undefined;
  try {
    const module = createRequire(import.meta.url)('@napi-rs/blake-hash') as BlakeHashModule;
    loaded = {
      hex: (bytes) => module.blake3(bytes).toString('hex'),
      hasher: () => {
        const state = new module.Blake3Hasher();
        return { update: (bytes) => void state.update(asBuffer(bytes)), hex: () => state.digest('hex') };
      },
    };
  } catch {
    // No prebuilt binary for this platform: hash-wasm does the work, more slowly.
  }
  return loaded ?? undefined;
}
