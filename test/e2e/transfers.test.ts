// What moves and what does not: dedupe of an insertion, immutable tags, `latest`, pulling a new version over an
// old one, a single-file push, symlinks that leave the folder, and --include/--exclude. All through the built CLI.
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rm, stat, symlink, watch, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveFile, generateModel, writeRandomFile } from '../../fixtures/generate-model.js';
import { createWorkspace, expectSameTree, expectUserError, listFiles, sha256File, type Workspace } from '../helpers/cli.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** Resolves when `path` no longer exists, woken by changes in its folder; fails the test if that takes a minute. */
async function gone(path: string): Promise<void> {
  const giveUp = new AbortController();
  const timer = setTimeout(() => giveUp.abort(), 60_000);
  // Watching starts before the first look, so a removal between the two is still seen.
  const changes = watch(dirname(path), { signal: giveUp.signal });
  try {
    if (existsSync(path)) for await (const _ of changes) if (!existsSync(path)) break;
  } catch {
    // given up (the assertion below says so), or the folder itself went away, which is gone too
  } finally {
    clearTimeout(timer);
    giveUp.abort();
  }
  expect(existsSync(path), `${path} is still there after a minute`).toBe(false);
}

describe('transfers (local repository)', () => {
  let ws: Workspace;

  beforeAll(async () => {
    // r keeps a file per chunk; p gathers chunks into packs (a folder's default, as on S3).
    ws = await createWorkspace((dir) => ({ r: { type: 'local', path: `${dir}/repo`, packs: false }, p: { type: 'local', path: `${dir}/packed` } }));
  });
  afterAll(() => ws.cleanup());

  describe.each(['r', 'p'])('a 64 MiB file with 1 KiB inserted near the start (repository %s)', (repo) => {
    const SIZE = 64 * MiB;
    const big = (name: string) => `${repo}-big-${name}`;
    beforeAll(async () => {
      await generateModel(ws.path(big('v1')), { files: [{ path: 'weights.bin', size: SIZE }, { path: 'config.json', size: 512 }], seed: 'dedupe' });
      await mkdir(ws.path(big('v2')));
      await writeFile(ws.path(big('v2'), 'config.json'), await readFile(ws.path(big('v1'), 'config.json')));
      await deriveFile(ws.path(big('v1'), 'weights.bin'), ws.path(big('v2'), 'weights.bin'), [{ kind: 'insert', offset: 4096, length: KiB }], 'dedupe');
    });

    it('pushes the new version sending only a few chunks', async () => {
      const v1 = await ws.json(['push', `${repo}/big:v1`, big('v1')]);
      expect(v1.bytesTransferred).toBe(SIZE + 512);
      const v2 = await ws.json(['push', `${repo}/big:v2`, big('v2')]);
      expect(v2.totalBytes).toBe(SIZE + KiB + 512);
      expect(v2.bytesTransferred).toBeGreaterThan(0);
      // The insertion falls in the file's head, which is cut into chunks of 16-512 KiB (1 MiB on average after it).
      expect(v2.bytesTransferred).toBeLessThan(MiB);
      expect(v2.bytesSkipped).toBe(v2.totalBytes - v2.bytesTransferred);
    });

    it('pulls the new version over the old one fetching only the changed chunks', async () => {
      const first = await ws.json(['pull', `${repo}/big:v1`, big('pulled')]);
      expect(first.bytesTransferred).toBe(SIZE + 512);
      await expectSameTree(ws.path(big('pulled')), ws.path(big('v1')));
      const second = await ws.json(['pull', `${repo}/big:v2`, big('pulled')]);
      expect(second.bytesTransferred).toBeGreaterThan(0);
      expect(second.bytesTransferred).toBeLessThan(MiB);
      expect(second.filesUnchanged).toBe(1); // config.json
      await expectSameTree(ws.path(big('pulled')), ws.path(big('v2')));
      // The replaced v1 file went to .aim/trash, which a detached process deletes after aim exits.
      await gone(ws.path(big('pulled'), '.aim', 'trash'));
    });
  });

  describe('tags', () => {
    beforeAll(async () => {
      for (const name of ['a', 'b', 'c']) await generateModel(ws.path(`tag-${name}`), { files: [{ path: 'w.bin', size: 300 * KiB }], seed: `tags-${name}` });
    });

    it('refuses to move a version tag to other content, moves it with --force, and treats the same content as a no-op', async () => {
      const a = await ws.json(['push', 'r/tagged:v1', 'tag-a']);
      expect(a.tagOutcome).toBe('created');

      const refused = await ws.run(['push', 'r/tagged:v1', 'tag-b', '--json']);
      expectUserError(refused, /tag v1 of r\/tagged already names other content/);
      expect(refused.stderr).toMatch(/hint: .*--force/);
      expect(refused.json().error).toMatchObject({ code: 'conflict', exitCode: 5 }); // --json: the error is the one document
      const tagOf = async (tag: string) =>
        (await ws.json(['model', 'versions', 'r', 'tagged'])).versions.find((v: { tag: string }) => v.tag === tag)?.digest;
      expect(await tagOf('v1')).toBe(a.digest);

      const forced = await ws.json(['push', 'r/tagged:v1', 'tag-b', '--force']);
      expect(forced.tagOutcome).toBe('moved');
      expect(await tagOf('v1')).toBe(forced.digest);
      expect(forced.digest).not.toBe(a.digest);

      const same = await ws.json(['model', 'push', 'r', 'tagged', 'tag-b', '--tag', 'v1']);
      expect(same).toMatchObject({ tagOutcome: 'unchanged', digest: forced.digest, bytesTransferred: 0 });
    });

    it('moves latest to the newest push that created or moved a tag', async () => {
      const c = await ws.json(['push', 'r/tagged:v3', 'tag-c']);
      const latest = async () => (await ws.json(['inspect', 'r/tagged'])).digest;
      expect(await latest()).toBe(c.digest);
      // Re-pushing existing content under its existing tag changes nothing, so latest stays.
      expect((await ws.json(['push', 'r/tagged:v1', 'tag-b'])).tagOutcome).toBe('unchanged');
      expect(await latest()).toBe(c.digest);
      // Old content under a new tag is a new push: latest follows it.
      const a2 = await ws.json(['push', 'r/tagged:v4', 'tag-a']);
      expect(a2.tagOutcome).toBe('created');
      expect(a2.bytesTransferred).toBe(0);
      expect(await latest()).toBe(a2.digest);
      // Pushing to `latest` itself never needs --force.
      expect((await ws.json(['push', 'r/tagged:latest', 'tag-c'])).tagOutcome).toBe('moved');
      expect(await latest()).toBe(c.digest);
    });
  });

  it('pushes a single file as a one-file version', async () => {
    await writeRandomFile(ws.path('loose', 'model.gguf'), 2 * MiB + 3, 'single');
    const pushed = await ws.json(['push', 'r/single:v1', 'loose/model.gguf']);
    expect(pushed).toMatchObject({ files: 1, totalBytes: 2 * MiB + 3, tagOutcome: 'created' });
    expect((await ws.json(['inspect', 'r/single:v1'])).files.map((f: { path: string }) => f.path)).toEqual(['model.gguf']);
    await ws.json(['pull', 'r/single:v1', 'single-out']);
    expect(await listFiles(ws.path('single-out'))).toEqual(['model.gguf']);
    expect(await sha256File(ws.path('single-out', 'model.gguf'))).toBe(await sha256File(ws.path('loose', 'model.gguf')));
  });

  it('re-pushes an unchanged file on the word of the manifest that stored it; after verify --repair, checks again', async () => {
    // Like restic's index: chunks a committed manifest names are not checked one by one on an unchanged re-push. A
    // chunk lost behind aim's back is found by `verify`; `verify --repair` marks the repository so that the next
    // push checks every chunk and stores the lost one again.
    const own = await createWorkspace((dir) => ({ lost: { type: 'local', path: `${dir}/repo`, packs: false } }));
    try {
      await writeRandomFile(own.path('model', 'w.bin'), 3 * MiB, 'trusted');
      const first = await own.json(['push', 'lost/m:v1', 'model']);
      const chunk = (await own.json(['inspect', 'lost/m:v1'])).manifest.files[0].chunks[0].digest.slice(7);
      await rm(own.path('repo', 'blobs', 'blake3', chunk.slice(0, 2), chunk));
      const trusted = await own.json(['push', 'lost/m:v1', 'model']);
      expect(trusted).toMatchObject({ digest: first.digest, tagOutcome: 'unchanged', bytesTransferred: 0 });
      expect((await own.run(['verify', 'lost', '--json'])).code).not.toBe(0);
      expect((await own.run(['verify', 'lost', '--repair', '--json'])).code).not.toBe(0);
      const restored = await own.json(['push', 'lost/m:v1', 'model']);
      expect(restored.bytesTransferred).toBeGreaterThan(0);
      expect((await own.json(['verify', 'lost'])).ok).toBe(true);
      expect((await own.json(['push', 'lost/m:v1', 'model'])).bytesTransferred).toBe(0);
    } finally {
      await own.cleanup();
    }
  });

  it('leaves the stat cache as it is on an unchanged re-push, and records a changed file', async () => {
    const own = await createWorkspace((dir) => ({ c: { type: 'local', path: `${dir}/repo` } }));
    try {
      await writeRandomFile(own.path('model', 'w.bin'), 3 * MiB, 'cache');
      await own.json(['push', 'c/m:v1', 'model']);
      const cacheDir = own.path('aim-home', 'cache', 'stat');
      const [cacheFile] = await listFiles(cacheDir);
      const written = await readFile(join(cacheDir, cacheFile!), 'utf8');
      const before = await stat(join(cacheDir, cacheFile!));
      expect(await own.json(['push', 'c/m:v2', 'model'])).toMatchObject({ bytesTransferred: 0 });
      // Every write of the cache is a new file renamed into place, so an untouched cache keeps its inode.
      const after = await stat(join(cacheDir, cacheFile!));
      expect({ ino: after.ino, mtimeMs: after.mtimeMs }).toEqual({ ino: before.ino, mtimeMs: before.mtimeMs });
      await writeRandomFile(own.path('model', 'w.bin'), 3 * MiB, 'cache-2');
      expect((await own.json(['push', 'c/m:v3', 'model'])).bytesTransferred).toBeGreaterThan(0);
      expect(await readFile(join(cacheDir, cacheFile!), 'utf8')).not.toBe(written);
    } finally {
      await own.cleanup();
    }
  });

  it('takes --concurrency on push, pull and verify, and refuses a value out of range', async () => {
    await writeRandomFile(ws.path('conc', 'w.bin'), 6 * MiB, 'conc');
    expect((await ws.json(['push', 'r/conc:v1', 'conc', '--concurrency', '1'])).bytesTransferred).toBe(6 * MiB);
    await ws.json(['pull', 'r/conc:v1', 'conc-out', '--concurrency', '32']);
    expect(await sha256File(ws.path('conc-out', 'w.bin'))).toBe(await sha256File(ws.path('conc', 'w.bin')));
    expect((await ws.json(['verify', 'r', 'conc:v1', '--concurrency', '2'])).ok).toBe(true);
    const refused = await ws.run(['pull', 'r/conc:v1', 'conc-bad', '--concurrency', '0']);
    expect(refused.code).not.toBe(0);
    expect(refused.stdout + refused.stderr).toMatch(/--concurrency: expected to be in the \[1; 256\] range/);
  });

  it('pulls a version in which several files have the same content (copies, empty files)', async () => {
    const src = ws.path('twins');
    await writeRandomFile(`${src}/a/tokenizer.json`, 300 * KiB, 'twins');
    await mkdir(`${src}/b`);
    await writeFile(`${src}/b/tokenizer.json`, await readFile(`${src}/a/tokenizer.json`));
    await writeFile(`${src}/a/__init__.py`, '');
    await writeFile(`${src}/b/__init__.py`, '');
    const pushed = await ws.json(['push', 'r/twins:v1', 'twins']);
    expect(pushed).toMatchObject({ files: 4, bytesTransferred: 300 * KiB });
    await ws.json(['pull', 'r/twins:v1', 'twins-out']);
    await expectSameTree(ws.path('twins-out'), src);
  });

  it('follows links to regular files wherever they point (the user chose the folder), skips a dangling one, and keeps file modes', async () => {
    const src = ws.path('linked');
    await generateModel(src, { files: [{ path: 'weights.bin', size: 100 * KiB }, { path: 'run.sh', size: 100 }], seed: 'links' });
    await chmod(`${src}/run.sh`, 0o755);
    await writeFile(ws.path('elsewhere.txt'), 'outside the pushed folder');
    await symlink('weights.bin', `${src}/alias.bin`);
    await symlink(ws.path('elsewhere.txt'), `${src}/absolute.txt`);
    await symlink('../elsewhere.txt', `${src}/relative.txt`);
    await symlink('missing.bin', `${src}/dangling.bin`);
    const pushed = await ws.json(['push', 'r/links:v1', 'linked']);
    expect(pushed.skippedSymlinks).toEqual(['dangling.bin']);
    expect(pushed.files).toBe(5);
    await ws.json(['pull', 'r/links:v1', 'links-out']);
    expect(await listFiles(ws.path('links-out'))).toEqual(['absolute.txt', 'alias.bin', 'relative.txt', 'run.sh', 'weights.bin']);
    expect(await readFile(ws.path('links-out', 'alias.bin'))).toEqual(await readFile(`${src}/weights.bin`));
    expect(await readFile(ws.path('links-out', 'relative.txt'), 'utf8')).toBe('outside the pushed folder');
    expect((await stat(ws.path('links-out', 'run.sh'))).mode & 0o777).toBe(0o755);
  });

  it('pushes a single file given by a link (a Hugging Face cache snapshot), big or small, under the name given', async () => {
    const blobs = ws.path('hf-cache', 'blobs');
    const snapshot = ws.path('hf-cache', 'snapshots', 'abc');
    await writeRandomFile(`${blobs}/big`, 20 * MiB, 'hf-big');
    await writeRandomFile(`${blobs}/small`, 1000, 'hf-small');
    await mkdir(snapshot, { recursive: true });
    await symlink('../../blobs/big', `${snapshot}/model.gguf`);
    await symlink('../../blobs/small', `${snapshot}/config.json`);
    for (const [name, blob] of [['model.gguf', 'big'], ['config.json', 'small']] as const) {
      expect((await ws.json(['push', `r/hf-${blob}:v1`, `${snapshot}/${name}`])).files).toBe(1);
      await ws.json(['pull', `r/hf-${blob}:v1`, `hf-out-${blob}`]);
      expect((await readFile(ws.path(`hf-out-${blob}`, name))).equals(await readFile(`${blobs}/${blob}`))).toBe(true);
    }
  });

  it('pushes only what --include selects and leaves out what --exclude names', async () => {
    const src = ws.path('globbed');
    await generateModel(src, {
      files: [
        { path: 'model.safetensors', size: 1000 },
        { path: 'sub/part.safetensors', size: 1000 },
        { path: 'optimizer.bin', size: 1000 },
        { path: 'notes.txt', size: 10 },
        { path: 'logs/run.txt', size: 10 },
      ],
      seed: 'globs',
    });
    const paths = async (tag: string) => (await ws.json(['inspect', `r/globbed:${tag}`])).files.map((f: { path: string }) => f.path);
    await ws.json(['push', 'r/globbed:inc', 'globbed', '--include', '**/*.safetensors']);
    expect(await paths('inc')).toEqual(['model.safetensors', 'sub/part.safetensors']);
    await ws.json(['push', 'r/globbed:exc', 'globbed', '--exclude', '**/*.txt', '--exclude', 'sub/**']);
    expect(await paths('exc')).toEqual(['model.safetensors', 'optimizer.bin']);
    // A pattern without a slash matches at any depth, as in .gitignore: sub/ and logs/ are not silently left out.
    await ws.json(['push', 'r/globbed:both', 'globbed', '--include', '*.safetensors', '--include', '*.txt', '--exclude', 'notes.txt']);
    expect(await paths('both')).toEqual(['logs/run.txt', 'model.safetensors', 'sub/part.safetensors']);
    await ws.json(['push', 'r/globbed:folder', 'globbed', '--exclude', 'sub', '--exclude', 'logs/']);
    expect(await paths('folder')).toEqual(['model.safetensors', 'notes.txt', 'optimizer.bin']);
    expectUserError(await ws.run(['push', 'r/globbed:none', 'globbed', '--include', '*.gguf']), /no files to push under .* matching \*\.gguf/);
  });
});
