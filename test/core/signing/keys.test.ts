import { createPrivateKey, createPublicKey } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateKey } from '../../../src/core/signing/keys.js';
import { ConflictError } from '../../../src/lib/errors.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'aim-keys-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('generateKey', () => {
  it('writes a matching pair, the private key readable by its owner only, and no temp file', async () => {
    const result = await generateKey(join(dir, 'alice'));
    const privateKey = createPrivateKey(await readFile(join(dir, 'alice.key')));
    expect(createPublicKey(privateKey).export({ type: 'spki', format: 'pem' })).toBe(await readFile(join(dir, 'alice.pub'), 'utf8'));
    expect((await stat(result.privateKeyPath)).mode & 0o777).toBe(0o600);
    expect((await readdir(dir)).sort()).toEqual(['alice.key', 'alice.pub']);
  });

  it('writes neither file when one exists: a new .key beside an older .pub would not match it', async () => {
    await writeFile(join(dir, 'alice.pub'), 'the public key already handed out\n');
    await expect(generateKey(join(dir, 'alice'))).rejects.toThrow(ConflictError);
    expect((await readdir(dir)).sort()).toEqual(['alice.pub']);
    expect(await readFile(join(dir, 'alice.pub'), 'utf8')).toBe('the public key already handed out\n');

    await writeFile(join(dir, 'bob.key'), 'an old private key\n');
    await expect(generateKey(join(dir, 'bob'))).rejects.toThrow(/bob\.key already exists/);
    expect((await readdir(dir)).sort()).toEqual(['alice.pub', 'bob.key']);
  });
});
