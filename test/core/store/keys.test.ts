import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalBackend } from '../../../src/backends/local.js';
import { digestFromHex } from '../../../src/core/format/digest.js';
import { isKeyChunk, keyObjectKey, parseKeyObject, readKeyObject, writeKeyObject } from '../../../src/core/store/keys.js';
import { IntegrityError } from '../../../src/lib/errors.js';

const folders: string[] = [];
afterEach(async () => Promise.all(folders.splice(0).map((f) => rm(f, { recursive: true, force: true }))));

const key = digestFromHex(`00ab${'1'.repeat(60)}`);
const shard = 'c'.repeat(32);

describe('key objects', () => {
  it('a key chunk is one whose hex starts with 00, filed under its next two hex digits', () => {
    expect(isKeyChunk(key)).toBe(true);
    expect(isKeyChunk(digestFromHex(`0a${'0'.repeat(62)}`))).toBe(false);
    expect(keyObjectKey(key)).toBe(`keys/ab/00ab${'1'.repeat(60)}`);
  });

  it('reads exactly 32 lowercase hex with or without a newline, and nothing else', () => {
    expect(parseKeyObject(Buffer.from(`${shard}\n`), 'k')).toBe(shard);
    expect(parseKeyObject(Buffer.from(shard), 'k')).toBe(shard);
    for (const bad of [shard.toUpperCase(), `${shard}\n\n`, shard.slice(1), `../${shard}`, `${shard} `, '', 'x'.repeat(100)]) {
      expect(() => parseKeyObject(Buffer.from(bad), 'keys/ab/x')).toThrow(IntegrityError);
    }
    expect(() => parseKeyObject(Buffer.from('zz'), 'keys/ab/x')).toThrow(/^corrupt key object at keys\/ab\/x: /);
  });

  it('is written once (put-if-absent) and read back; a missing one is undefined; a huge one is refused unread', async () => {
    const root = await mkdtemp(join(tmpdir(), 'aim-keys-'));
    folders.push(root);
    const backend = new LocalBackend(root);
    expect(await readKeyObject(backend, key)).toBeUndefined();
    expect(await writeKeyObject(backend, key, shard)).toBe(true);
    expect(await writeKeyObject(backend, key, 'd'.repeat(32))).toBe(false);
    expect(await readKeyObject(backend, key)).toBe(shard);
    const other = digestFromHex(`00cd${'2'.repeat(60)}`);
    await mkdir(join(root, 'keys/cd'), { recursive: true });
    await writeFile(join(root, keyObjectKey(other)), Buffer.alloc(1 << 20, 0x61));
    await expect(readKeyObject(backend, other)).rejects.toThrow(/corrupt key object at keys\/cd\/00cd.* more than the 64/);
  });
});
