// Names as an attacker writes them, through the real CLI under a time and memory bound (harness.ts): file names
// pull would refuse, patterns that reach outside the pushed folder, escape sequences in names, annotations and
// repository contents, foreign folders and garbage tags in a shared repository, and `repo create` with bad input.
// Each case asserts effects: after a refused push the repository is byte for byte as before and `latest` still
// pulls; no raw control character reaches the terminal; a bad model costs only itself; a refused `repo create`
// leaves no folder and no config line.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateModel } from '../../fixtures/generate-model.js';
import { digestOf } from '../../src/core/format/digest.js';
import { createWorkspace, expectSameTree, expectUserError, writeReposConfig, type CliResult, type Workspace } from '../helpers/cli.js';
import { expectUnchanged, runBounded, snapshot, type Bounds } from './harness.js';

const run = promisify(execFile);
const ESC = '\x1b';
// Every control character but the line break (which output layout uses), plus DEL, C1 and bidirectional overrides.
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

function expectNoRawControls(result: CliResult): void {
  expect(result.stdout, 'stdout').not.toMatch(RAW_CONTROL);
  expect(result.stderr, 'stderr').not.toMatch(RAW_CONTROL);
}

/** Runs a command that must fail with one plain, escaped line (within the harness's time and memory bounds). */
async function refused(workspace: Workspace, args: string[], message: RegExp, bounds: Bounds = {}, env?: NodeJS.ProcessEnv): Promise<string> {
  const result = await runBounded(workspace, args, bounds, env ? { env } : {});
  expectNoRawControls(result);
  return expectUserError(result, message);
}

let ws: Workspace;
const repo = (): string => ws.path('repo');
let pulls = 0;

/** `latest` of r/base still pulls, and gives exactly the good version pushed first. */
async function expectLatestStillPulls(): Promise<void> {
  const dest = ws.path(`pulled-${pulls++}`);
  const result = await runBounded(ws, ['pull', 'r/base', dest, '--json']);
  expect(result.code, result.stderr).toBe(0);
  await expectSameTree(dest, ws.path('good'));
  await rm(dest, { recursive: true, force: true });
}

/** Runs a push that must be refused and checks that nothing reached the repository and `latest` still pulls. */
async function expectPushRefused(args: string[], message: RegExp): Promise<string> {
  const before = await snapshot(repo());
  const line = await refused(ws, args, message);
  await expectUnchanged(repo(), before);
  await expectLatestStillPulls();
  return line;
}

/** A fresh folder holding one ordinary file and whatever `plant` adds; returns its path. */
let sources = 0;
async function sourceWith(plant: (dir: string) => Promise<void>): Promise<string> {
  const dir = ws.path(`source-${sources++}`);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'config.json'), '{"ok":true}\n');
  await plant(dir);
  return dir;
}

beforeAll(async () => {
  ws = await createWorkspace((dir) => ({ r: { type: 'local', path: `${dir}/repo` } }));
  await generateModel(ws.path('good'), { files: [{ path: 'weights.bin', size: 200_000 }, { path: 'sub/config.json', size: 300 }], seed: 'names' });
  await ws.json(['push', 'r/base:v1', 'good']);
  await ws.json(['push', 'r/other:v1', 'good']);
});
// GNU rm removes trees deeper than PATH_MAX (the long-path case plants one); Node's rm cannot name their leaves.
afterAll(async () => void (await run('rm', ['-rf', ws.dir])));

describe('file names push refuses before anything is uploaded', () => {
  const file = (name: string | Buffer) => async (dir: string) => void (await writeFile(typeof name === 'string' ? join(dir, name) : Buffer.concat([Buffer.from(`${dir}/`), name]), 'x'));
  it.each([
    ['a backslash', file('back\\slash.bin'), /"back\\slash\.bin" contains a backslash/],
    ['a newline (once dropped without a word)', file('new\nline.bin'), /"new\\nline\.bin" contains a control character/],
    ['a carriage return', file('over\rwrite.bin'), /contains a control character/],
    ['an ESC sequence', file(`red${ESC}[31m${ESC}]0;title${ESC}\\.bin`), /"red\\x1b\[31m\\x1b\]0;title\\x1b\\\.bin" contains a control character/],
    ['a C1 CSI', file('c1\u009b2J.bin'), /contains a control character/],
    ['a tab', file('tab\there.bin'), /contains a control character/],
    ['bytes that are not UTF-8', file(Buffer.from([0x77, 0xff, 0xfe, 0x2e, 0x62])), /is not valid UTF-8/],
    ['a backslash deep in a subfolder', async (dir: string) => {
      await mkdir(join(dir, 'a', 'b'), { recursive: true });
      await writeFile(join(dir, 'a', 'b', 'x\\y'), 'x');
    }, /"a\/b\/x\\y" contains a backslash/],
    ['a folder whose name holds a newline', async (dir: string) => {
      await mkdir(join(dir, 'evil\ndir'));
      await writeFile(join(dir, 'evil\ndir', 'weights.bin'), 'x');
    }, /"evil\\ndir" contains a control character/],
    ['a file named .aim, the name pull keeps for itself', file('.aim'), /"\.aim" is inside \.aim/],
    ['a path over 4096 bytes (twenty nested 250-byte folders)', async (dir: string) => {
      const part = 'd'.repeat(250);
      // Built one level at a time from inside: the whole path is longer than PATH_MAX, so no single call can name it.
      await run('bash', ['-c', `cd "$1" && for i in $(seq 20); do mkdir ${part} && cd ${part}; done && echo x > leaf`, 'bash', dir]);
    }, /longer than 1024 bytes/],
    ['several bad names at once, each named', async (dir: string) => {
      for (const name of ['one\\', 'two\n', 'three\x07']) await writeFile(join(dir, name), 'x');
    }, /3 names a pull could not write: "one\\" contains a backslash; "three\\x07" contains a control character; "two\\n"/],
  ])('%s', async (_label, plant, message) => {
    const source = await sourceWith(plant);
    await expectPushRefused(['push', 'r/base:v2', source], message);
  });

  it('a single file pushed on its own with a newline in its name', async () => {
    const source = await sourceWith(async (dir) => writeFile(join(dir, 'lone\nfile.bin'), 'x'));
    await expectPushRefused(['push', 'r/base:v2', join(source, 'lone\nfile.bin')], /"lone\\nfile\.bin" contains a control character/);
  });

  it('a link to a folder or a FIFO is skipped and named on stderr, never read (no hang)', async () => {
    await mkdir(ws.path('a-folder'), { recursive: true });
    await promisify(execFile)('mkfifo', [ws.path('a-fifo')]);
    const source = await sourceWith(async (dir) => {
      await symlink(ws.path('a-folder'), join(dir, 'to-folder'));
      await symlink(ws.path('a-fifo'), join(dir, 'to-fifo'));
    });
    const result = await runBounded(ws, ['push', 'r/links:v1', source, '--json']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.json().skippedSymlinks).toEqual(['to-fifo', 'to-folder']);
    const inspected = await ws.json(['inspect', 'r/links:v1']);
    expect(inspected.files.map((f: { path: string }) => f.path)).toEqual(['config.json']);
    const human = await runBounded(ws, ['push', 'r/links:v2', source]);
    expect(human.stderr).toMatch(/^skipped to-fifo: a link to .*a-fifo \(a FIFO\), not to a regular file$/m);
    expect(human.stderr).toMatch(/^skipped to-folder: a link to .*a-folder \(a folder\), not to a regular file$/m);
  });
});

describe('--include and --exclude stay inside the folder', () => {
  beforeAll(async () => {
    await mkdir(ws.path('outside'), { recursive: true });
    await writeFile(ws.path('outside', 'secret.key'), 'private\n');
  });

  it.each([
    ['--include ../*', ['--include', '../*'], /--include "\.\.\/\*" has a "\.\." segment/],
    ['--include ../../outside/**', ['--include', '../../outside/**'], /has a "\.\." segment/],
    ['--include a/../../x', ['--include', 'a/../../x'], /has a "\.\." segment/],
    ['--include with an absolute path', ['--include', '/etc/passwd'], /--include "\/etc\/passwd" is absolute/],
    ['--exclude ../**', ['--exclude', '../**'], /--exclude "\.\.\/\*\*" has a "\.\." segment/],
    ['--exclude with an absolute path', ['--exclude', '/**'], /--exclude "\/\*\*" is absolute/],
    ['--exclude with an escape sequence', ['--exclude', `x${ESC}[2J`], /--exclude "x\\x1b\[2J" contains a control character/],
  ])('%s is refused', async (_label, flags, message) => {
    const source = await sourceWith(async () => undefined);
    await expectPushRefused(['push', 'r/base:v2', source, ...flags], message);
  });

  it('patterns inside the folder still select, and a name outside the selection still fails loudly', async () => {
    const source = await sourceWith(async (dir) => {
      await mkdir(join(dir, 'weights'));
      await writeFile(join(dir, 'weights', 'a.bin'), 'a');
      await writeFile(join(dir, 'weights', 'b.tmp'), 'b');
    });
    const pushed = await runBounded(ws, ['push', 'r/select:v1', source, '--include', 'weights/**', '--exclude', '**/*.tmp', '--json']);
    expect(pushed.code, pushed.stderr).toBe(0);
    expect((await ws.json(['inspect', 'r/select:v1'])).files.map((f: { path: string }) => f.path)).toEqual(['weights/a.bin']);
    await writeFile(join(source, 'junk\nname'), 'x');
    await expectPushRefused(['push', 'r/base:v2', source, '--include', 'weights/**'], /"junk\\nname" contains a control character/);
  });
});

describe('names and texts with escape sequences never reach the terminal raw', () => {
  it.each([
    ['a model name', ['push', `r/m${ESC}[31m:v1`, 'good'], /invalid model name "m\\x1b\[31m"/],
    ['a tag name', ['model', 'push', 'r', 'base', 'good', '--tag', `v${ESC}]0;t${ESC}\\`], /invalid tag name "v\\x1b\]0;t\\x1b\\"/],
    ['a repository name', ['model', 'list', `r${ESC}[2J`], /invalid repository name|repository "r\\x1b\[2J" is not in/],
    ['a reference with a C1 CSI', ['pull', `r/base\u009b2J`, 'out'], /invalid model name "base\\x9b2J"/],
  ])('%s is refused with the escape shown, not sent', async (_label, args, message) => {
    const before = await snapshot(repo());
    await refused(ws, args, message);
    await expectUnchanged(repo(), before);
  });

  it('a description and an annotation with escape sequences show escaped in inspect, verbatim in --json', async () => {
    const description = `fine-tune ${ESC}[2J${ESC}]0;pwned${ESC}\\ \u202eevil`;
    const pushed = await runBounded(ws, ['push', 'r/described:v1', 'good', '--description', description, '--annotation', `k${ESC}[1m=v\r`, '--json']);
    expect(pushed.code, pushed.stderr).toBe(0);
    const inspected = await runBounded(ws, ['inspect', 'r/described:v1']);
    expect(inspected.code).toBe(0);
    expectNoRawControls(inspected);
    expect(inspected.stdout).toContain('description: fine-tune \\x1b[2J\\x1b]0;pwned\\x1b\\ \\u202eevil');
    expect(inspected.stdout).toContain('k\\x1b[1m: v\\r');
    const json = await runBounded(ws, ['inspect', 'r/described:v1', '--json']);
    expectNoRawControls(json);
    expect(json.json().annotations).toEqual({ description, [`k${ESC}[1m`]: 'v\r' });
  });

  it('a manifest planted with an escape sequence in a file path: pull and inspect refuse in one escaped line, write nothing', async () => {
    const good = (await ws.json(['inspect', 'r/base:v1'])).manifest;
    const hostile = { ...good, files: [{ ...good.files[0], path: `x${ESC}[2J\n${ESC}[1Aaim: all good` }] };
    const bytes = Buffer.from(`${JSON.stringify(hostile)}\n`);
    const digest = await digestOf(bytes);
    const hex = digest.slice('blake3:'.length);
    await mkdir(join(repo(), 'manifests', 'blake3', hex.slice(0, 2)), { recursive: true });
    await writeFile(join(repo(), 'manifests', 'blake3', hex.slice(0, 2), hex), bytes);
    await mkdir(join(repo(), 'models', 'planted', 'tags'), { recursive: true });
    await writeFile(join(repo(), 'models', 'planted', 'tags', 'v1'), JSON.stringify({ digest, pushedAt: new Date().toISOString(), size: 1, files: 1 }));
    for (const args of [['pull', 'r/planted:v1', ws.path('planted-out')], ['inspect', 'r/planted:v1']]) {
      await refused(ws, args, /path: .* contains a control character/);
    }
    expect(existsSync(ws.path('planted-out', 'x'))).toBe(false);
    // The cases below verify the whole repository: the planted manifest would be one more problem there.
    await rm(join(repo(), 'models', 'planted'), { recursive: true });
    await rm(join(repo(), 'manifests', 'blake3', hex.slice(0, 2), hex));
  });

  it('model and tag names planted in the repository show escaped in model list and versions', async () => {
    await mkdir(join(repo(), 'models', `evil${ESC}[2J`, 'tags'), { recursive: true });
    await writeFile(join(repo(), 'models', `evil${ESC}[2J`, 'tags', 'v1'), '{}');
    await writeFile(join(repo(), 'models', 'other', 'tags', `v9${ESC}]0;x\u0007`), await readFile(join(repo(), 'models', 'other', 'tags', 'v1')));
    try {
      for (const args of [['model', 'list', 'r'], ['model', 'versions', 'r', 'other'], ['verify', 'r', 'other']]) {
        const result = await runBounded(ws, args);
        expectNoRawControls(result);
        expect(result.stdout + result.stderr).toMatch(/models\/other\/tags\/v9\\x1b\]0;x\\x07: invalid tag name/);
      }
      const listed = await runBounded(ws, ['model', 'list', 'r']);
      expect(listed.code).toBe(0);
      expect(listed.stderr).toMatch(/skipped models\/evil\\x1b\[2J: invalid model name/);
      expect(listed.stdout).toMatch(/^base\s/m);
    } finally {
      await rm(join(repo(), 'models', `evil${ESC}[2J`), { recursive: true });
      await rm(join(repo(), 'models', 'other', 'tags', `v9${ESC}]0;x\u0007`));
    }
  });
});

describe('a bad model or tag in a shared repository costs only itself', () => {
  async function plant(model: string, files: Record<string, string>): Promise<void> {
    await mkdir(join(repo(), 'models', model, 'tags'), { recursive: true });
    for (const [tag, text] of Object.entries(files)) await writeFile(join(repo(), 'models', model, 'tags', tag), text);
  }

  it.each([
    ['a foreign folder with a name aim refuses', 'bad name', { v1: '{}' }, /models\/bad name/],
    ['a garbage tag', 'broken', { v1: 'garbage' }, /models\/broken\/tags\/v1/],
    ['an empty tag', 'hollow', { v1: '' }, /models\/hollow\/tags\/v1/],
  ])('%s: list, verify and pull of the others go on, and the bad one is reported', async (_label, model, files, key) => {
    await plant(model, files);
    try {
      const listed = await runBounded(ws, ['model', 'list', 'r', '--json']);
      expect(listed.code, listed.stderr).toBe(0);
      const listing = listed.json();
      expect(listing.models.map((m: { name: string }) => m.name)).toEqual(expect.arrayContaining(['base', 'other']));
      expect(listing.problems.map((p: { key: string }) => p.key)).toEqual([expect.stringMatching(key)]);
      expect(listed.stderr).toMatch(/^aim: warning: skipped models\//m);

      const verified = await runBounded(ws, ['verify', 'r', '--json']);
      expect(verified.code).not.toBe(0);
      expect(verified.code).not.toBe(70);
      const report = verified.json();
      expect(report.chunksChecked).toBeGreaterThan(0); // the good models' chunks were read and hashed
      expect(report.problems).toEqual([expect.objectContaining({ kind: 'bad-tag', digest: expect.stringMatching(key) })]);
      await expectLatestStillPulls();
    } finally {
      await rm(join(repo(), 'models', model), { recursive: true, force: true });
    }
  });

  it('model delete removes a model whose tags are garbage, and leaves the others', async () => {
    await plant('trash', { v1: 'garbage', v2: '', latest: '{"digest": 12}' });
    const deleted = await runBounded(ws, ['model', 'delete', 'r', 'trash', '--json']);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(deleted.json().deleted).toEqual(['latest', 'v1', 'v2']);
    expect(existsSync(join(repo(), 'models', 'trash', 'tags', 'v1'))).toBe(false);
    expect((await ws.json(['model', 'list', 'r'])).models.map((m: { name: string }) => m.name)).toEqual(expect.arrayContaining(['base', 'other']));
  });

  it('model versions and delete-version work around one garbage tag of the same model', async () => {
    await ws.json(['push', 'r/mixed:v1', 'good']);
    await writeFile(join(repo(), 'models', 'mixed', 'tags', 'v2'), 'garbage');
    const versions = await runBounded(ws, ['model', 'versions', 'r', 'mixed', '--json']);
    expect(versions.code, versions.stderr).toBe(0);
    expect(versions.json().versions.map((v: { tag: string }) => v.tag).sort()).toEqual(['latest', 'v1']);
    expect(versions.json().problems).toEqual([expect.objectContaining({ key: 'models/mixed/tags/v2' })]);
    const removed = await runBounded(ws, ['model', 'delete-version', 'r', 'mixed', '--tag', 'v2', '--json']);
    expect(removed.code, removed.stderr).toBe(0);
    expect(existsSync(join(repo(), 'models', 'mixed', 'tags', 'v2'))).toBe(false);
    expect((await ws.json(['model', 'versions', 'r', 'mixed'])).problems).toEqual([]);
  });
});

describe('repo create with bad input writes nothing', () => {
  let scratch: Workspace;
  beforeAll(async () => {
    scratch = await createWorkspace(); // no model_repos.yaml yet: AIM_CONFIG names where it would go
    await writeFile(scratch.path('a-file'), 'not a folder\n');
  });
  afterAll(() => scratch.cleanup());

  it.each([
    ['a name with ..', ['bad..name', '--path', 'store-1'], /invalid repository name "bad\.\.name"/],
    ['a name with an escape sequence', [`r${ESC}[2J`, '--path', 'store-2'], /invalid repository name "r\\x1b\[2J"/],
    ['an unknown type', ['t', '--type', 'ftp', '--path', 'store-3'], /--type ftp is not supported/],
    ['an s3 path that is not a URL', ['s', '--type', 's3', '--path', 'not-a-url'], /path must look like s3:\/\/bucket\/prefix/],
    ['an s3 path with a newline', ['s', '--type', 's3', '--path', 's3://b/p\nx'], /path must not hold spaces or control characters/],
    ['a local path that is a file', ['f', '--path', 'a-file'], /repository path .*a-file is not a folder/],
    ['a local path below a file', ['f', '--path', 'a-file/store'], /not a folder/],
    ['an empty path', ['e', '--path', ''], /path is missing/],
    ['an endpoint that is not a URL', ['s', '--type', 's3', '--path', 's3://b/p', '--endpoint', 'minio.local:9000'], /endpoint must be an http:\/\/ or https:\/\/ URL/],
    ['an endpoint holding credentials', ['s', '--type', 's3', '--path', 's3://b/p', '--endpoint', 'http://key:secret@minio.local'], /endpoint must not hold credentials/],
    ['an endpoint with a newline', ['s', '--type', 's3', '--path', 's3://b/p', '--endpoint', 'http://minio\n.local'], /endpoint must be an http/],
    ['a region that is not a name', ['s', '--type', 's3', '--path', 's3://b/p', '--region', 'us-east-1/../x'], /region must be a name like us-east-1/],
    ['an empty profile', ['s', '--type', 's3', '--path', 's3://b/p', '--profile', ''], /profile must be a profile name/],
  ])('%s', async (_label, args, message) => {
    const before = await snapshot(scratch.dir, ['aim-home']);
    await refused(scratch, ['repo', 'create', ...args], message);
    await expectUnchanged(scratch.dir, before, ['aim-home']);
    expect(existsSync(scratch.config)).toBe(false);
    // Every command still works: nothing was written that would break them.
    expect((await runBounded(scratch, ['repo', 'list', '--json'])).code).toBe(0);
  });

  it('a refused entry leaves an existing, commented config byte for byte, and repo delete still works', async () => {
    const config = scratch.path('team', 'model_repos.yaml');
    await writeReposConfig(config, { keep: { type: 'local', path: scratch.path('keep') } });
    await writeFile(config, `# shared file\n${await readFile(config, 'utf8')}`);
    const env = { AIM_CONFIG: config };
    const before = await snapshot(scratch.dir, ['aim-home']);
    await refused(scratch, ['repo', 'create', 'bad', '--type', 's3', '--path', 'not-a-url'], /path must look like s3:/, {}, env);
    await expectUnchanged(scratch.dir, before, ['aim-home']);
    const deleted = await runBounded(scratch, ['repo', 'delete', 'keep', '--json'], {}, { env });
    expect(deleted.code, deleted.stderr).toBe(0);
  });
});
