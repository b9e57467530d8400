// Signed versions through the built CLI: key generate, push --sign, trust add, then pull and run under the policy.
// Each hostile case is a repository writer's move (the threat a signature answers): the pull is refused with one
// plain line (exit 4) naming the version, what was found and the trusted keys, and nothing is written to DEST.
import { copyFile, mkdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTinyGgufInto } from '../../fixtures/tiny-gguf.js';
import { createWorkspace, expectUserError, type Workspace } from '../helpers/cli.js';
import { runBounded } from '../hostile/harness.js';

const NO_KAMIWAZA = { KAMIWAZA_BASE_URL: '', KAMIWAZA_BASE_URI: '', KAMIWAZA_API_URL: '' };
const NOT_P256 = fileURLToPath(new URL('../core/signing/golden/signing-key-pub.pem', import.meta.url));

let ws: Workspace;
let alice: string;
let bob: string;

const sigPath = (digest: string, keyId: string) => {
  const hex = digest.slice('blake3:'.length);
  return ws.path('store', 'signatures', hex.slice(0, 2), hex, `${keyId}.sig`);
};

async function writeModel(name: string, files: Record<string, string>): Promise<string> {
  const dir = ws.path('models', name);
  await rm(dir, { recursive: true, force: true });
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  return dir;
}

const BASE = { 'weights.bin': 'the weights '.repeat(5000), 'config.json': '{"layers": 2}' };

async function push(tag: string, files: Record<string, string>, ...flags: string[]): Promise<string> {
  const result = await ws.json(['push', `team/m:${tag}`, await writeModel(tag, files), '--force', ...flags]);
  return result.digest as string;
}

/** Expects the pull of `tag` refused as a trust failure, with DEST never created. */
async function expectPullRefused(tag: string, message: RegExp): Promise<string> {
  const dest = ws.path('out', tag);
  const result = await runBounded(ws, ['pull', `team/m:${tag}`, dest], { maxRssMiB: 300 });
  const line = expectUserError(result, message);
  expect(result.code).toBe(4);
  expect(existsSync(dest), `${dest} was created`).toBe(false);
  return line;
}

beforeAll(async () => {
  ws = await createWorkspace((dir) => ({ team: { type: 'local', path: join(dir, 'store') } }));
  alice = (await ws.json(['key', 'generate', 'alice'])).keyId;
  bob = (await ws.json(['key', 'generate', 'bob'])).keyId;
  await ws.json(['trust', 'add', 'team', 'alice.pub', '--name', 'alice']);
});
afterAll(() => ws.cleanup());

describe('keys', () => {
  it('writes a 0600 PKCS#8 private key and an SPKI public key, never over an existing one', async () => {
    const { stat } = await import('node:fs/promises');
    expect((await stat(ws.path('alice.key'))).mode & 0o777).toBe(0o600);
    expect(await readFile(ws.path('alice.key'), 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(await readFile(ws.path('alice.pub'), 'utf8')).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    const before = await readFile(ws.path('alice.key'));
    expectUserError(await ws.run(['key', 'generate', 'alice']), /alice.key already exists/);
    expect(await readFile(ws.path('alice.key'))).toEqual(before);
  });

  it('lists the policy', async () => {
    expect(await ws.json(['trust', 'list'])).toEqual({ repositories: [{ repo: 'team', require: 'signed', keys: [{ name: 'alice', keyId: alice, from: 'repository' }] }] });
  });
});

describe('a signed version under the policy', () => {
  it('pulls, with a model.sig whose files are the pulled ones', async () => {
    const digest = await push('good', BASE, '--sign', '--key', 'alice.key');
    expect(existsSync(sigPath(digest, alice))).toBe(true);
    const dest = ws.path('out', 'good');
    const result = await ws.json(['pull', 'team/m:good', dest, '--write-signature']);
    expect(result.signature).toBe(join(dest, 'model.sig'));
    expect(await readFile(join(dest, 'weights.bin'), 'utf8')).toBe(BASE['weights.bin']);
    expect(await readFile(join(dest, 'model.sig'))).toEqual(await readFile(sigPath(digest, alice)));
  });

  it('signs an existing version with aim sign', async () => {
    await push('later', { ...BASE, 'extra.txt': 'x' });
    await expectPullRefused('later', /no signature/);
    const signed = await ws.json(['sign', 'team/m:later', '--key', 'alice.key']);
    expect(signed.keyId).toBe(alice);
    expect((await ws.run(['pull', 'team/m:later', ws.path('out', 'later'), '-q'])).code).toBe(0);
  });
});

describe('round trip: sign, pull under the policy, run', () => {
  it('serves a signed GGUF with --require-signed, and stops it', async () => {
    await writeTinyGgufInto(ws.path('tiny'), { quant: 'q8_0', seed: 3 });
    await ws.json(['push', 'team/tiny:v1', ws.path('tiny'), '--sign', '--key', 'alice.key']);
    expect((await ws.run(['pull', 'team/tiny:v1', ws.path('out', 'tiny'), '-q'])).code).toBe(0);
    try {
      const record = await ws.json(['run', 'team/tiny:v1', '--require-signed', '--engine', 'embedded', '--threads', '1', '--ctx-size', '256'], { env: NO_KAMIWAZA });
      expect(record).toMatchObject({ name: 'tiny', engine: 'embedded', modelId: 'team/tiny:v1' });
      expect((await fetch(`${record.endpoint}/models`)).ok).toBe(true);
    } finally {
      await ws.run(['stop', '--all']);
    }
  });
});

describe('who signed', () => {
  it('inspect, model versions and verify --signatures name the signers; a forged one fails verify', async () => {
    const good = await push('shown', { ...BASE, 'shown.txt': 's' }, '--sign', '--key', 'alice.key');
    await ws.json(['sign', 'team/m:shown', '--key', 'bob.key']);
    const inspect = await ws.json(['inspect', 'team/m:shown']);
    const statuses = inspect.signatures.map((s: any) => [s.keyId, s.name, s.status]);
    expect(statuses).toHaveLength(2);
    expect(statuses).toContainEqual([alice, 'alice', 'valid']);
    expect(statuses).toContainEqual([bob, undefined, 'untrusted']);
    const versions = await ws.json(['model', 'versions', 'team', 'm']);
    expect(versions.versions.find((v: any) => v.tag === 'shown').signatures).toContainEqual({ keyId: alice, name: 'alice' });
    expect((await ws.json(['verify', 'team', 'm:shown', '--signatures'])).ok).toBe(true);

    const forged = await push('forged', { ...BASE, 'forged.txt': 'f' });
    await mkdir(dirname(sigPath(forged, alice)), { recursive: true });
    await copyFile(sigPath(good, alice), sigPath(forged, alice));
    const result = await ws.run(['verify', 'team', 'm:forged', '--signatures']);
    expectUserError(result, /1 versions of team have bad signatures/);
    expect(result.code).toBe(4);
    expect(result.stdout).toMatch(/alice \([0-9a-f]{16}\): it signs shown.txt, which this version does not have/);
  });
});

describe('refused, nothing written', () => {
  it('latest moved to an unsigned version', async () => {
    await push('latest', BASE, '--sign', '--key', 'alice.key');
    await push('latest', { ...BASE, 'weights.bin': 'other weights' });
    const line = await expectPullRefused('latest', /refusing team\/m:latest \([0-9a-f]+\): no trusted key signed it\. Found: no signature\. Trusted: alice/);
    expect(line).toContain(alice.slice(0, 16));
  });

  it('a signature by a key nobody trusts', async () => {
    // Content of its own: the same files as another version are the same manifest, which alice signed.
    await push('by-bob', { ...BASE, 'bob.txt': 'b' }, '--sign', '--key', 'bob.key');
    await expectPullRefused('by-bob', new RegExp(`key ${bob.slice(0, 16)}: the key is not trusted`));
  });

  const tampered: Array<[string, Record<string, string>, RegExp]> = [
    ['a file\'s bytes changed', { ...BASE, 'weights.bin': 'evil weights' }, /alice \([0-9a-f]{16}\): it signs other bytes for weights.bin/],
    ['a file added', { ...BASE, 'evil.py': 'import os' }, /alice \([0-9a-f]{16}\): it does not sign evil.py/],
    ['a file removed', { 'weights.bin': BASE['weights.bin'] }, /alice \([0-9a-f]{16}\): it signs config.json, which this version does not have/],
  ];
  for (const [name, files, message] of tampered) {
    it(`${name}, re-pushed under the same tag with the old signature copied beside it`, async () => {
      const tag = name.replace(/\W+/g, '-');
      const signed = await push(tag, BASE, '--sign', '--key', 'alice.key');
      const forged = await push(tag, files);
      await mkdir(dirname(sigPath(forged, alice)), { recursive: true });
      await copyFile(sigPath(signed, alice), sigPath(forged, alice));
      await expectPullRefused(tag, message);
    });
  }

  it('a signature copied from another version', async () => {
    const other = await push('other', { 'tokenizer.json': '{}' }, '--sign', '--key', 'alice.key');
    const target = await push('copied', BASE);
    await mkdir(dirname(sigPath(target, alice)), { recursive: true });
    await copyFile(sigPath(other, alice), sigPath(target, alice));
    await expectPullRefused('copied', /it signs tokenizer.json, which this version does not have/);
  });

  const objects: Array<[string, (path: string, good: string) => Promise<void>, RegExp]> = [
    ['garbage', (path) => writeFile(path, 'not json at all'), /corrupt signature at signatures\/.*: not valid JSON/],
    ['truncated', async (path, good) => writeFile(path, (await readFile(good)).subarray(0, 200)), /corrupt signature at signatures\/.*: not valid JSON/],
    // Sparse: the file claims 100 MB without the disk holding it; the size alone refuses it, nothing is read.
    ['100 MB', (path) => writeFile(path, '').then(() => truncate(path, 100 * 1024 * 1024)), /104857600 bytes, more than the 16777216/],
  ];
  for (const [name, write, message] of objects) {
    it(`a ${name} signature object`, async () => {
      const tag = `obj-${name.replace(/\W+/g, '-')}`;
      const good = await push(`${tag}-good`, { 'a.txt': tag }, '--sign', '--key', 'alice.key');
      const digest = await push(tag, { ...BASE, 'b.txt': tag });
      await mkdir(dirname(sigPath(digest, alice)), { recursive: true });
      await write(sigPath(digest, alice), sigPath(good, alice));
      await expectPullRefused(tag, message);
    });
  }

  it('run refuses before anything lands in AIM_HOME', async () => {
    const result = await runBounded(ws, ['run', 'team/m:by-bob', '--engine', 'embedded']);
    expectUserError(result, /refusing team\/m:by-bob/);
    expect(result.code).toBe(4);
    expect(existsSync(join(ws.home, 'models', 'team', 'm'))).toBe(false);
  });

  it('--require-signed refuses where the policy does not ask', async () => {
    const lax = await createWorkspace((dir) => ({ team: { type: 'local', path: join(dir, 'store') } }));
    try {
      await mkdir(lax.path('m'));
      await writeFile(lax.path('m', 'a.txt'), 'a');
      await lax.json(['push', 'team/m:v1', lax.path('m')]);
      expect((await lax.run(['pull', 'team/m:v1', lax.path('ok'), '-q'])).code).toBe(0);
      const result = await lax.run(['pull', 'team/m:v1', lax.path('strict'), '--require-signed']);
      expectUserError(result, /Found: no signature\. Trusted: none/);
      expect(result.code).toBe(4);
      expect(existsSync(lax.path('strict'))).toBe(false);
    } finally {
      await lax.cleanup();
    }
  });
});

describe('a policy key that is not a P-256 public key', () => {
  it('is refused by trust add, and by pull when written into the file by hand', async () => {
    await writeFile(ws.path('garbage.pub'), 'hello');
    expectUserError(await ws.run(['trust', 'add', 'team', 'garbage.pub', '--name', 'g']), /garbage.pub is not a PEM public key/);
    expectUserError(await ws.run(['trust', 'add', 'team', NOT_P256, '--name', 'p384']), /is not an EC P-256 public key/);
    const config = await readFile(ws.config, 'utf8');
    try {
      await writeFile(ws.config, config.replace('keys:\n', `keys:\n        - name: p384\n          path: ${NOT_P256}\n`));
      const result = await ws.run(['pull', 'team/m:good', ws.path('out', 'p384')]);
      expectUserError(result, /trusted key p384 of repository team: .* is not an EC P-256 public key/);
      expect(existsSync(ws.path('out', 'p384'))).toBe(false);
    } finally {
      await writeFile(ws.config, config);
    }
  });
});
