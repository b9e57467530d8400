// Every error a user can cause, through the built CLI: one plain `aim: error:` line, a `hint:`, a non-zero exit and
// no stack trace (unless -v). Where the failure involves data, also what must NOT happen (no final-named file, no
// write outside the destination).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateModel } from '../../fixtures/generate-model.js';
import { digestOf } from '../../src/core/format/digest.js';
import { createWorkspace, expectUserError, listFiles, writeReposConfig, type Workspace } from '../helpers/cli.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const run = promisify(execFile);

/** Mounts a tmpfs with `options` at `dir` (tests run as root, where this is permitted); returns the unmount. */
async function mountTmpfs(dir: string, options: string): Promise<() => Promise<void>> {
  await mkdir(dir, { recursive: true });
  await run('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir]);
  return async () => void (await run('umount', [dir]));
}

const blobPath = (ws: Workspace, digest: string) => ws.path('repo', 'blobs', 'blake3', digest.slice(7, 9), digest.slice(7));

describe('user errors', () => {
  let ws: Workspace;
  const unmounts: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    ws = await createWorkspace((dir) => ({ r: { type: 'local', path: `${dir}/repo`, packs: false } })); // damage is done to loose chunk files
    await generateModel(ws.path('model'), { files: [{ path: 'weights.bin', size: 3 * MiB }, { path: 'config.json', size: 200 }], seed: 'errors' });
    await writeFile(ws.path('model', 'weights-copy.bin'), await readFile(ws.path('model', 'weights.bin')));
    await ws.json(['push', 'r/m:v1', 'model']);
  });
  afterAll(async () => {
    for (const unmount of unmounts) await unmount().catch(() => undefined);
    await ws.cleanup();
  });

  it('each class of failure exits with its own code, so a script can tell them apart', async () => {
    const codes: Record<string, number | null> = {};
    codes.usage = (await ws.run(['pull', 'r/m:bad tag!', 'out-usage'])).code;
    codes.notFound = (await ws.run(['pull', 'r/nothing-here:v1', 'out-missing'])).code;
    await mkdir(ws.path('repo', 'models', 'torn', 'tags'), { recursive: true });
    await writeFile(ws.path('repo', 'models', 'torn', 'tags', 'v1'), 'not json');
    codes.integrity = (await ws.run(['pull', 'r/torn:v1', 'out-torn'])).code;
    await rm(ws.path('repo', 'models', 'torn'), { recursive: true }); // later cases verify the whole repository
    codes.config = (await ws.run(['repo', 'list'], { env: { AIM_CONFIG: ws.path('model', 'config.json') } })).code;
    codes.settings = (await ws.run(['repo', 'list'], { env: { AIM_DIRECT_IO: 'maybe' } })).code;
    expect(codes).toEqual({ usage: 2, notFound: 3, integrity: 4, config: 7, settings: 7 });
  });

  it('unknown repository', async () => {
    expectUserError(await ws.run(['pull', 'nope/m', 'out']), /repository "nope" is not in .*model_repos\.yaml \(known: r\)/);
  });

  it('malformed reference', async () => {
    expectUserError(await ws.run(['pull', 'just-a-name', 'out']), /"just-a-name" is not a model reference/);
  });

  it('missing folder to push', async () => {
    expectUserError(await ws.run(['push', 'r/m:v2', 'no-such-folder']), /no-such-folder does not exist/);
  });

  it('unknown tag', async () => {
    const result = await ws.run(['pull', 'r/m:v9', 'out']);
    expectUserError(result, /tag v9 of r\/m not found/);
    expect(result.stderr).toMatch(/hint: aim model versions r m/);
    expect(existsSync(ws.path('out', 'weights.bin'))).toBe(false);
  });

  it('unknown model', async () => {
    expectUserError(await ws.run(['pull', 'r/ghost', 'out']), /model ghost not found in repository r/);
    expectUserError(await ws.run(['model', 'versions', 'r', 'ghost']), /model ghost not found in repository r/);
    expectUserError(await ws.run(['verify', 'r', 'ghost']), /model ghost in r not found/);
  });

  it('prints the stack only with -v', async () => {
    const verbose = await ws.run(['pull', 'r/m:v9', 'out', '-v']);
    expect(verbose.code).not.toBe(0);
    expect(verbose.stderr).toMatch(/^aim: error: tag v9 of r\/m not found/);
    expect(verbose.stderr).toMatch(/^\s+at /m);
  });

  it('a destination name longer than the file system allows: a plain line, not an internal error', async () => {
    const dest = ws.path('out', 'x'.repeat(300));
    expectUserError(await ws.run(['pull', 'r/m:v1', dest]), /file name too long: .*xxxx/);
    expect(existsSync(ws.path('out', 'x'.repeat(300)))).toBe(false);
  });

  it('malformed YAML in model_repos.yaml', async () => {
    const bad = ws.path('bad', 'model_repos.yaml');
    await mkdir(ws.path('bad'));
    await writeFile(bad, 'repositories:\n  r:\n    type: local\n    path: "unterminated\n');
    const result = await ws.run(['repo', 'list'], { env: { AIM_CONFIG: bad } });
    expectUserError(result, /model_repos\.yaml:[1-9]\d*:[1-9]\d*: malformed YAML/);
  });

  it('invalid repositories in model_repos.yaml, all named at once', async () => {
    const bad = ws.path('invalid', 'model_repos.yaml');
    await mkdir(ws.path('invalid'));
    await writeFile(bad, 'repositories:\n  a: {type: ftp, path: /x}\n  b: {type: s3, path: bucket}\n');
    const line = expectUserError(await ws.run(['repo', 'list'], { env: { AIM_CONFIG: bad } }));
    expect(line).toMatch(/repository a: type must be local, s3 or http; repository b: path must look like s3:/);
  });

  it('a repository path that does not exist', async () => {
    const config = ws.path('missing-repo', 'model_repos.yaml');
    await writeReposConfig(config, { gone: { type: 'local', path: ws.path('missing-repo', 'nowhere') } });
    const env = { AIM_CONFIG: config };
    expectUserError(await ws.run(['model', 'list', 'gone'], { env }), /repository folder .*nowhere does not exist/);
    expectUserError(await ws.run(['push', 'gone/m:v1', 'model'], { env }), /repository folder .*nowhere does not exist/);
    expect(existsSync(ws.path('missing-repo', 'nowhere')), 'a push does not invent the repository folder').toBe(false);
  });

  it('a repository path that is not writable', async () => {
    // Tests run as root, where chmod 555 does not stop writes (root bypasses permission bits). A read-only tmpfs
    // mount stops root too (EROFS), so that is what a root run uses; an unprivileged run uses chmod 555.
    const readOnly = ws.path('ro-repo');
    if (process.getuid?.() === 0) unmounts.push(await mountTmpfs(readOnly, 'ro,size=1m'));
    else {
      await mkdir(readOnly);
      await run('chmod', ['555', readOnly]);
    }
    const config = ws.path('ro', 'model_repos.yaml');
    await writeReposConfig(config, { ro: { type: 'local', path: readOnly } });
    const result = await ws.run(['push', 'ro/m:v1', 'model'], { env: { AIM_CONFIG: config } });
    expectUserError(result, /repository folder .*ro-repo is not writable/);
    expect(await listFiles(readOnly)).toEqual([]);
    // Reading still works: an empty read-only repository lists no models.
    expect((await ws.json(['model', 'list', 'ro'], { env: { AIM_CONFIG: config } })).models).toEqual([]);
  });

  describe('disk full', () => {
    // A real ENOSPC from the kernel: a 2 MiB tmpfs (tests run as root, where mounting is permitted) holding the
    // repository for a push, and the destination for a pull, of a 6 MiB version.
    it('while pushing into the repository', async () => {
      const full = ws.path('full-repo');
      unmounts.push(await mountTmpfs(full, 'size=2m'));
      const config = ws.path('full', 'model_repos.yaml');
      await writeReposConfig(config, { small: { type: 'local', path: full } });
      const result = await ws.run(['push', 'small/m:v1', 'model'], { env: { AIM_CONFIG: config } });
      expectUserError(result, /no space left on the device holding .*full-repo/);
      expect(result.stderr).toMatch(/hint: .*resumes/);
      expect(await listFiles(ws.path('full-repo', 'models')).catch(() => [])).toEqual([]);
    });

    it('while pulling into the destination', async () => {
      const dest = ws.path('full-dest');
      unmounts.push(await mountTmpfs(dest, 'size=2m'));
      const result = await ws.run(['pull', 'r/m:v1', dest]);
      expectUserError(result, /no space left on device/);
      expect(result.stderr).toMatch(/hint: free some space/);
      expect(await listFiles(dest)).toEqual([]);
    });
  });

  it('a corrupt blob: verify names the chunk and the files using it; pull refuses and writes no final-named file', async () => {
    const manifest = (await ws.json(['inspect', 'r/m:v1'])).manifest;
    const weights = manifest.files.find((f: { path: string }) => f.path === 'weights.bin');
    const chunk: string = weights.chunks[1].digest;
    const path = blobPath(ws, chunk);
    const bytes = await readFile(path);
    bytes[1000] = bytes[1000]! ^ 0x01;
    await writeFile(path, bytes);

    const verified = await ws.run(['verify', 'r', '--json']);
    expectUserError(verified, /1 missing or corrupt object in r/);
    const report = verified.json();
    expect(report.ok).toBe(false);
    expect(report.problems).toHaveLength(1);
    expect(report.problems[0]).toMatchObject({ kind: 'corrupt', digest: chunk });
    expect(report.problems[0].usedBy).toEqual(['m:latest/weights-copy.bin', 'm:latest/weights.bin', 'm:v1/weights-copy.bin', 'm:v1/weights.bin']);
    const human = await ws.run(['verify', 'r']);
    expect(human.code).not.toBe(0);
    expect(human.stdout).toContain(chunk);
    expect(human.stdout).toContain('m:v1/weights.bin');

    const pulled = await ws.run(['pull', 'r/m:v1', 'corrupt-out']);
    expectUserError(pulled, new RegExp(`chunk ${chunk} .*corrupt`));
    expect(await listFiles(ws.path('corrupt-out'))).toEqual([]);

    // Repair: a push skips chunks that are present, so `verify --repair` removes the corrupt one first; pushing
    // the good copy (the stat cache notices the missing chunk) then stores it again, and pull works.
    const repaired = await ws.run(['verify', 'r', '--repair', '--json']);
    expectUserError(repaired, /1 missing or corrupt object in r/);
    expect(repaired.stderr).toContain('corrupt chunks were removed');
    await expect(readFile(path)).rejects.toThrow();
    const pushed = await ws.json(['push', 'r/m:v1', 'model']);
    expect(pushed.tagOutcome).toBe('unchanged');
    expect(pushed.bytesTransferred).toBeGreaterThan(0);
    expect((await ws.json(['verify', 'r'])).ok).toBe(true);
    await ws.json(['pull', 'r/m:v1', 'corrupt-out']);

    // Bytes after a whole, correct chunk (an append, a botched copy) make the stored object corrupt too.
    const other: string = weights.chunks[2].digest;
    await appendFile(blobPath(ws, other), 'x');
    const appended = await ws.run(['verify', 'r', '--json']);
    expectUserError(appended, /1 missing or corrupt object in r/);
    expect(appended.json().problems).toMatchObject([{ kind: 'corrupt', digest: other }]);
  });

  it('a hostile manifest with a ../ path: pull refuses and writes nothing outside (or inside) DEST', async () => {
    const good = (await ws.json(['inspect', 'r/m:v1'])).manifest;
    const config = good.files.find((f: { path: string }) => f.path === 'config.json');
    const hostile = { ...good, files: [{ ...config, path: '../evil' }] };
    const bytes = Buffer.from(JSON.stringify(hostile));
    const digest = await digestOf(bytes);
    const hex = digest.slice(7);
    await mkdir(ws.path('repo', 'manifests', 'blake3', hex.slice(0, 2)), { recursive: true });
    await writeFile(ws.path('repo', 'manifests', 'blake3', hex.slice(0, 2), hex), bytes);
    await writeFile(ws.path('repo', 'models', 'm', 'tags', 'evil'), JSON.stringify({ digest, pushedAt: new Date().toISOString(), size: config.size, files: 1 }));

    await mkdir(ws.path('hostile'));
    const result = await ws.run(['pull', 'r/m:evil', ws.path('hostile', 'dest')]);
    expectUserError(result, /corrupt manifest at .*: files\.0\.path: "\.\.\/evil" has a "\.\." segment/);
    expect(existsSync(ws.path('hostile', 'evil'))).toBe(false);
    expect(await listFiles(ws.path('hostile'), { includeAim: true }).then((files) => files.filter((f) => !f.startsWith('dest/.aim/')))).toEqual([]);
    expectUserError(await ws.run(['inspect', 'r/m:evil']), /path: "\.\.\/evil" has a "\.\." segment/);
  });
});
