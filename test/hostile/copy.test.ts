// aim copy from a source repository an attacker (or a damaged disk) wrote, through the real CLI under the harness's
// time and memory bound: a damaged chunk stops the copy with one plain line and no tag at the destination; the
// signatures carried never put a forgery in place of a good one; hostile tags cost warnings, capped, not the copy.
import { randomBytes } from 'node:crypto';
import { readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateModel } from '../../fixtures/generate-model.js';
import { createWorkspace, pushFiles, type Workspace } from '../helpers/cli.js';
import { readManifest } from '../helpers/repo-files.js';
import { expectRefused, expectUnchanged, runBounded, snapshot } from './harness.js';

const KiB = 1024;
const MiB = 1024 * KiB;

describe('aim copy from a hostile source', () => {
  let ws: Workspace;
  let digest: string;
  const blobFile = (chunk: string): string => join(ws.path('loose'), 'blobs', 'blake3', chunk.slice(7, 9), chunk.slice(7));

  beforeEach(async () => {
    ws = await createWorkspace((dir) => ({
      loose: { type: 'local', path: `${dir}/loose`, packs: false },
      packed: { type: 'local', path: `${dir}/packed` },
    }));
    await generateModel(ws.path('src'), { seed: 'hostile-copy', files: [{ path: 'w.bin', size: 300 * KiB }] });
    digest = (await ws.json(['push', 'loose/m:v1', 'src'])).digest;
  });
  afterEach(() => ws.cleanup());

  // A chunk's size is known from its manifest, and no chunk is larger than the format allows: a longer object is
  // read no further than that, however long it is (reading it whole held 900 MiB in memory before any check).
  it('a damaged loose chunk grown to 900 MiB (sparse) is refused without being read whole', async () => {
    const [file] = (await readManifest(ws.path('loose'), digest)).files;
    const blob = blobFile(file!.chunks[0]!.digest);
    await writeFile(blob, 'X', { flag: 'r+' });
    await truncate(blob, 900 * MiB);
    const before = await snapshot(ws.dir, ['packed', 'aim-home']);
    await expectRefused(ws, ['copy', 'loose/m:v1', 'packed'], /chunk blake3:[0-9a-f]{64} is corrupt in repository loose/, { maxRssMiB: 300 });
    expect((await ws.run(['inspect', 'packed/m:v1'])).code).toBe(3);
    await expectRefused(ws, ['pull', 'loose/m:v1', 'dest'], /^aim: error: blobs\/blake3\/[0-9a-f]{2}\/[0-9a-f]{64} in .*loose is \d+ bytes, more than/, { maxRssMiB: 300 });
    expect((await readdir(ws.path('dest')).catch(() => [] as string[])).filter((name) => name !== '.aim')).toEqual([]);
    await expectUnchanged(ws.dir, before, ['packed', 'aim-home', 'dest']);
  });
});

// A signature carried by a copy is not judged by who signed it (a later reader checks that against their own keys),
// but one naming a key this machine trusts for either repository must verify with it, and one that cannot be checked
// here never replaces the destination's: else a source could put a forgery in place of a signer's good signature
// there, and pulls under a policy trusting that signer would refuse the version.
describe('aim copy carrying signatures from a hostile source', () => {
  let ws: Workspace;
  const signatures = (digest: string): string => ws.path('src', 'signatures', digest.slice(7, 9), digest.slice(7));
  const trustAlice = (repo: string) => ws.json(['trust', 'add', repo, 'alice.pub', '--name', 'alice']);
  /** Pushes a version signed by alice to `src` and copies it (signature and all) to `dst`; returns its digest. */
  const signedAtBoth = async (): Promise<string> => {
    const digest = await pushFiles(ws, 'src/m:v1', { 'a.txt': 'signed bytes' }, '--sign', '--key', 'alice.key');
    expect((await ws.json(['copy', 'src/m:v1', 'dst'])).versions[0].signatures).toHaveLength(1);
    return digest;
  };
  /** Replaces the signature bytes of alice's bundle in `src` with random ones: the bundle still parses and matches. */
  const forge = async (digest: string): Promise<void> => {
    const [name] = await readdir(signatures(digest));
    const file = join(signatures(digest), name!);
    const bundle = JSON.parse(await readFile(file, 'utf8'));
    bundle.dsseEnvelope.signatures[0].sig = randomBytes(70).toString('base64');
    await writeFile(file, JSON.stringify(bundle));
  };
  const expectPulls = async (ref: string): Promise<void> => {
    const pulled = await runBounded(ws, ['pull', ref, ws.path(`out-${ref.replace(/\W/g, '-')}`)]);
    expect(pulled.code, pulled.stderr).toBe(0);
  };

  beforeEach(async () => {
    ws = await createWorkspace((dir) => ({ src: { type: 'local', path: join(dir, 'src') }, dst: { type: 'local', path: join(dir, 'dst') } }));
    await ws.json(['key', 'generate', 'alice']);
  });
  afterEach(() => ws.cleanup());

  it('a signature naming a key trusted at the destination that does not verify with it stays behind', async () => {
    await trustAlice('dst');
    await forge(await signedAtBoth());
    const copied = await runBounded(ws, ['copy', 'src/m:v1', 'dst/m:v2']);
    expect(copied.code, copied.stderr).toBe(0);
    expect(copied.stderr).toMatch(/not carrying signatures\/.*\.sig in .*src: it does not verify with the trusted key alice/);
    for (const tag of ['v1', 'v2']) await expectPulls(`dst/m:${tag}`);
  });

  it("a source's signature that cannot be checked here does not replace the destination's", async () => {
    await forge(await signedAtBoth());
    const copied = await runBounded(ws, ['copy', 'src/m:v1', 'dst/m:v2']);
    expect(copied.code, copied.stderr).toBe(0);
    // A reader of the destination who trusts alice.
    await trustAlice('dst');
    await expectPulls('dst/m:v2');
  });

  // A version's signature objects are read up to a bound (64): junk objects whose names sort first must not push a
  // trusted signer's signature past it, or the version reads as unsigned wherever a policy asks for that signer.
  it("64 junk signature objects sorting first do not hide a trusted signer's signature", async () => {
    for (const repo of ['src', 'dst']) await trustAlice(repo);
    const digest = await pushFiles(ws, 'src/m:v1', { 'a.txt': 'signed bytes' }, '--sign', '--key', 'alice.key');
    for (let i = 0; i < 64; i++) await writeFile(join(signatures(digest), `${'0'.repeat(62)}${i.toString(16).padStart(2, '0')}.sig`), '{}');
    await expectPulls('src/m:v1');
    const copied = await runBounded(ws, ['copy', 'src/m:v1', 'dst', '--json']);
    expect(copied.code, copied.stderr).toBe(0);
    expect(copied.json().versions[0].signatures).toHaveLength(1);
    await expectPulls('dst/m:v1');
  });

  it('a pull refused under the policy names the trusted signer and a few of 64 junk signatures, on one short line', async () => {
    await trustAlice('src');
    const digest = await pushFiles(ws, 'src/m:v1', { 'a.txt': 'signed bytes' }, '--sign', '--key', 'alice.key');
    await forge(digest);
    for (let i = 0; i < 64; i++) await writeFile(join(signatures(digest), `${'0'.repeat(62)}${i.toString(16).padStart(2, '0')}.sig`), '{}');
    const pulled = await runBounded(ws, ['pull', 'src/m:v1', ws.path('out')]);
    expect(pulled.code, pulled.stderr).toBe(4);
    const [line] = pulled.stderr.split('\n');
    expect(line).toMatch(/^aim: error: refusing src\/m:v1 .*no trusted key signed it\. Found: .*alice \([0-9a-f]{16}\): the signature does not verify with that key; .* and \d+ more\. Trusted: alice/);
    expect(line!.length).toBeLessThan(2000);
  });

  // An export carries signatures the same way: a forgery naming a key the exporter trusts would stand for that signer
  // wherever the layout is imported.
  it('aim export leaves behind a signature naming a trusted key that does not verify with it', async () => {
    await trustAlice('src');
    await forge(await pushFiles(ws, 'src/m:v1', { 'a.txt': 'signed bytes' }, '--sign', '--key', 'alice.key'));
    const exported = await runBounded(ws, ['export', 'src/m:v1', '-o', ws.path('m.tar')]);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stderr).toMatch(/not carrying signatures\/.*\.sig in .*src: it does not verify with the trusted key alice/);
    expect(exported.stdout).toMatch(/exported/);
    expect(exported.stdout).not.toMatch(/signatures/);
  });
});

describe('aim copy --all-tags over hostile tags', () => {
  let ws: Workspace;
  const tags = (...parts: string[]): string => ws.path('a', 'models', 'm', 'tags', ...parts);

  beforeEach(async () => {
    ws = await createWorkspace((dir) => ({ a: { type: 'local', path: `${dir}/a` }, b: { type: 'local', path: `${dir}/b` } }));
    await pushFiles(ws, 'a/m:v1', { 'a.txt': 'tagged' });
  });
  afterEach(() => ws.cleanup());

  // Each unreadable tag is stepped over with a warning: a model with a hundred of them gets a few lines and a count
  // on the terminal (--json lists them all), not a screenful per hundred.
  it('a hundred unreadable tags beside a good one: the good one is copied, the warnings are capped', async () => {
    for (let i = 0; i < 100; i++) await writeFile(tags(`bad${i}`), 'not a tag');
    const copied = await runBounded(ws, ['copy', 'a/m', 'b', '--all-tags']);
    expect(copied.code, copied.stderr).toBe(0);
    const warnings = copied.stderr.split('\n').filter((line) => line.startsWith('aim: warning: '));
    expect(warnings).toHaveLength(21);
    expect(warnings.at(-1)).toBe('aim: warning: skipped 80 more unreadable parts of the repository (--json lists them all)');
    expect((await ws.json(['inspect', 'b/m:v1'])).digest).toBeDefined();
    expect((await ws.json(['copy', 'a/m', 'b', '--all-tags'])).problems).toHaveLength(100);
  });

  // "Every tag" of a model that has none to copy (only `latest`, or only tags that do not read) is not a success that
  // copied nothing.
  it.each([
    ['only latest', async () => rm(tags('v1'))],
    ['only unreadable tags', async () => {
      await writeFile(tags('v1'), 'not a tag');
      await rm(tags('latest'));
    }],
  ])('a model with %s is refused, naming it', async (_name, damage) => {
    await damage();
    await expectRefused(ws, ['copy', 'a/m', 'b', '--all-tags'], /model m of repository a has no version tag to copy/);
    expect((await ws.run(['model', 'versions', 'b', 'm'])).code).toBe(3);
  });
});
