import { describe, expect, it } from 'vitest';
import { randomStream } from '../../../fixtures/generate-model.js';
import {
  assertDigest,
  createDigester,
  digestFromHex,
  digestHex,
  digestOf,
  isDigest,
  parseDigest,
  shortDigest,
  type Digest,
} from '../../../src/core/format/digest.js';
import { IntegrityError, UsageError } from '../../../src/lib/errors.js';
import { nativeBlake3 } from '../../../src/core/hashing/blake3-native.js';
import { createBLAKE3 } from 'hash-wasm';

// Published BLAKE3 test values (b3sum): the empty input and "abc".
const EMPTY = 'blake3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262';
const ABC = 'blake3:6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85';

describe('digest', () => {
  it('is BLAKE3-256 with the blake3: prefix and lowercase hex', async () => {
    expect(await digestOf(new Uint8Array(0))).toBe(EMPTY);
    expect(await digestOf(Buffer.from('abc'))).toBe(ABC);
  });

  it('gives the same digest streamed in pieces as in one piece, and reuses its hasher safely', async () => {
    const data = randomStream('digest').next(3 * 1024 * 1024 + 17);
    const whole = await digestOf(data);
    const digester = await createDigester();
    for (let offset = 0; offset < data.length; offset += 100_003) digester.update(data.subarray(offset, offset + 100_003));
    expect(digester.digest()).toBe(whole);
    // The shared one-shot hasher is re-initialised each time: results do not depend on earlier calls.
    expect(await digestOf(Buffer.from('abc'))).toBe(ABC);
    expect(await digestOf(data)).toBe(whole);
    const [a, b] = await Promise.all([digestOf(Buffer.from('abc')), digestOf(new Uint8Array(0))]);
    expect([a, b]).toEqual([ABC, EMPTY]);
  });

  it('parses only blake3: followed by 64 lowercase hex characters', () => {
    expect(parseDigest(ABC)).toBe(ABC);
    expect(isDigest(ABC)).toBe(true);
    for (const bad of [
      ABC.toUpperCase(),
      ABC.replace('blake3:', 'sha256:'),
      ABC.slice(0, -1),
      `${ABC}0`,
      ABC.replace('blake3:', ''),
      `${ABC.slice(0, -1)}g`,
      ` ${ABC}`,
      '',
    ]) {
      expect(isDigest(bad), bad).toBe(false);
      expect(() => parseDigest(bad, 'manifest x'), bad).toThrow(UsageError);
    }
    expect(isDigest(42)).toBe(false);
    expect(isDigest(undefined)).toBe(false);
    expect(() => parseDigest('nope', 'reference r/m@nope')).toThrow(/reference r\/m@nope: "nope" is not a digest/);
  });

  it('converts between digest, hex and short form', () => {
    const digest = ABC as Digest;
    expect(digestHex(digest)).toBe(ABC.slice(7));
    expect(digestFromHex(digestHex(digest))).toBe(ABC);
    expect(shortDigest(digest)).toBe('6437b3ac3846');
    expect(() => digestFromHex('xyz')).toThrow(UsageError);
  });

  it('assertDigest accepts matching bytes and throws IntegrityError naming both digests otherwise', async () => {
    await expect(assertDigest(Buffer.from('abc'), ABC as Digest, 'chunk X')).resolves.toBeUndefined();
    const error = await assertDigest(Buffer.from('abd'), ABC as Digest, 'chunk X').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IntegrityError);
    expect((error as IntegrityError).message).toMatch(new RegExp(`^chunk X is corrupt: expected ${ABC}, got blake3:[0-9a-f]{64}$`));
    expect((error as IntegrityError).hint).toMatch(/aim verify/);
  });

  it('uses native BLAKE3 on this platform, and it agrees with hash-wasm', async () => {
    const native = nativeBlake3();
    expect(native, 'the prebuilt @napi-rs/blake-hash binary should load on linux-x64').toBeDefined();
    const wasm = await createBLAKE3();
    for (const size of [0, 1, 1023, 1024, 1025, 64 * 1024 + 7, 3 * 1024 * 1024]) {
      const data = randomStream(`native-${size}`).next(size);
      wasm.init();
      wasm.update(data);
      expect(native!.hex(data)).toBe(wasm.digest('hex'));
      const incremental = native!.hasher();
      for (let offset = 0; offset < data.length; offset += 4099) incremental.update(data.subarray(offset, offset + 4099));
      expect(incremental.hex()).toBe(native!.hex(data));
    }
  });
});
