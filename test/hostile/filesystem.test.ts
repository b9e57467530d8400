// The repository, the pull destination's .aim and AIM_HOME as an attacker leaves them: links planted where aim
// reads and writes, FIFOs and devices where it expects files, names the file system cannot hold, a read-only
// destination. Every case runs the real CLI under the harness's time and memory bound and asserts on effects: a
// sentinel folder outside the repository and the destination is exactly as it was (every link points into it, so a
// write or delete through one would show), and the command either refuses with one plain line or, where replacing
// what was planted is the right answer, succeeds with the right bytes in place.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, lstat, mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateModel } from '../../fixtures/generate-model.js';
import { digestOf } from '../../src/core/format/digest.js';
import { createWorkspace, expectSameTree, type Workspace } from '../helpers/cli.js';
import { expectRefused, expectUnchanged, runBounded, snapshot } from './harness.js';

const run = promisify(execFile);
const KiB = 1024;
const BOUNDS = { timeoutMs: 20_000 };

/** One pushed version in a pristine repository, copied into each case's own workspace. */
interface Pristine {
  ws: Workspace;
  /** Repository-relative paths of the version's tag, pack, index file and manifest. */
  tag: string;
  pack: string;
  index: string;
  manifest: string;
  /** Hex digest of weights.bin: the name of its partial file in DEST/.aim/partial. */
  weightsHex: string;
}

interface Case {
  name: string;
  ws: Workspace;
  repo: string;
  outside: string;
  dest: string;
  model: string;
  pristine: Pristine;
  /** A repository-relative path inside this case's repository. */
  inRepo(relative: string): string;
}

type Outcome = { refused: RegExp } | { ok: (c: Case) => Promise<void> };

interface HostileCase {
  name: string;
  plant(c: Case): Promise<void>;
  args(c: Case): string[];
  outcome: Outcome;
}

const mkfifo = async (path: string): Promise<void> => void (await run('mkfifo', [path]));
/** Replaces the file at `path` with what `make` puts there. */
const replaceWith = (make: (path: string) => Promise<unknown>) => async (path: string) => {
  await rm(path, { recursive: true, force: true });
  await make(path);
};
const fifo = replaceWith(mkfifo);
/** Copies `path` into the sentinel folder and puts a link to the copy in its place: a write through it would show. */
const linkToCopy = async (c: Case, path: string) => {
  const copy = join(c.outside, `copy-of-${path.split('/').at(-1)}`);
  await cp(path, copy, { recursive: true });
  await replaceWith((at) => symlink(copy, at))(path);
};
const zeroDevice = replaceWith((path) => run('mknod', [path, 'c', '1', '5'])); // what /dev/zero is

const pull = (c: Case) => ['pull', 'r/m:v1', c.dest];
const push = (tag: string) => (c: Case) => ['push', `r/m:${tag}`, c.model];
const pullAfter = (prepare: (c: Case) => Promise<void>) => async (c: Case) => {
  await mkdir(join(c.dest, '.aim', 'partial'), { recursive: true });
  await prepare(c);
};
const refused = (pattern: RegExp): Outcome => ({ refused: pattern });
/** The pull succeeded and DEST holds exactly the version (what was planted under a final name was replaced). */
const pulledIntact: Outcome = { ok: (c) => expectSameTree(c.dest, c.model) };

const CASES: HostileCase[] = [
  // Links planted in the pull's destination.
  { name: 'DEST/.aim is a link', plant: async (c) => { await mkdir(c.dest); await symlink(c.outside, join(c.dest, '.aim')); }, args: pull, outcome: refused(/\.aim is a symlink, not a folder/) },
  { name: 'DEST/.aim/partial is a link', plant: async (c) => { await mkdir(join(c.dest, '.aim'), { recursive: true }); await symlink(c.outside, join(c.dest, '.aim', 'partial')); }, args: pull, outcome: refused(/partial is a symlink, not a folder/) },
  { name: 'DEST/.aim/partial/<digest> links to a file outside', plant: pullAfter((c) => symlink(join(c.outside, 'sentinel.txt'), join(c.dest, '.aim', 'partial', c.pristine.weightsHex))), args: pull, outcome: refused(/partial\/[0-9a-f]{64} is a symlink, not a regular file/) },
  { name: 'DEST/.aim/partial/<digest>.journal links to a file outside', plant: pullAfter((c) => symlink(join(c.outside, 'sentinel.txt'), join(c.dest, '.aim', 'partial', `${c.pristine.weightsHex}.journal`))), args: pull, outcome: refused(/\.journal is a symlink, not a regular file/) },
  { name: 'a DEST/.aim journal far too long to be one (restarts that file)', plant: pullAfter(async (c) => { await writeFile(join(c.dest, '.aim', 'partial', c.pristine.weightsHex), Buffer.alloc(1024)); await writeFile(join(c.dest, '.aim', 'partial', `${c.pristine.weightsHex}.journal`), Buffer.alloc(64 * KiB + 1, 0x20)); }), args: pull, outcome: pulledIntact },
  { name: 'DEST/.aim/state.json links to a file outside', plant: pullAfter((c) => symlink(join(c.outside, 'sentinel.txt'), join(c.dest, '.aim', 'state.json'))), args: pull, outcome: refused(/state\.json is a symlink, not a regular file/) },
  { name: 'DEST/.aim/trash is a link (a file in DEST gets replaced)', plant: pullAfter(async (c) => { await writeFile(join(c.dest, 'weights.bin'), 'old'); await symlink(c.outside, join(c.dest, '.aim', 'trash')); }), args: pull, outcome: pulledIntact },
  { name: 'a final file name in DEST links to a file outside', plant: async (c) => { await mkdir(c.dest); await symlink(join(c.outside, 'sentinel.txt'), join(c.dest, 'weights.bin')); }, args: pull, outcome: pulledIntact },
  { name: 'a folder of DEST on a file\'s path is a link', plant: async (c) => { await mkdir(c.dest); await symlink(c.outside, join(c.dest, 'sub')); }, args: pull, outcome: refused(/sub is a symlink/) },
  // Links planted in the repository.
  { name: 'models/<m> in the repository is a link (pull)', plant: (c) => linkToCopy(c, c.inRepo('models/m')), args: pull, outcome: refused(/models\/m is a symlink, not a folder/) },
  { name: 'models/<m> in the repository is a link (push)', plant: (c) => linkToCopy(c, c.inRepo('models/m')), args: push('v2'), outcome: refused(/models\/m is a symlink, not a folder/) },
  { name: 'models/<m>/tags is a link (push)', plant: (c) => linkToCopy(c, c.inRepo('models/m/tags')), args: push('v2'), outcome: refused(/tags is a symlink, not a folder/) },
  { name: 'a tag is a link (pull)', plant: (c) => linkToCopy(c, c.inRepo(c.pristine.tag)), args: pull, outcome: refused(/tags\/v1 is a symlink, not a regular file/) },
  { name: 'a tag is a link (push over it)', plant: (c) => linkToCopy(c, c.inRepo(c.pristine.tag)), args: push('v1'), outcome: refused(/tags\/v1 is a symlink/) },
  { name: 'a pack is a link', plant: (c) => linkToCopy(c, c.inRepo(c.pristine.pack)), args: pull, outcome: refused(/packs\/[0-9a-f]{2}\/[0-9a-f]{32} is a symlink, not a regular file/) },
  { name: 'a pack links to /dev/zero', plant: (c) => replaceWith((path) => symlink('/dev/zero', path))(c.inRepo(c.pristine.pack)), args: pull, outcome: refused(/is a symlink, not a regular file/) },
  { name: 'an index file is a link', plant: (c) => linkToCopy(c, c.inRepo(c.pristine.index)), args: pull, outcome: refused(/missing from repository r/) },
  { name: 'the manifest is a link', plant: (c) => linkToCopy(c, c.inRepo(c.pristine.manifest)), args: pull, outcome: refused(/manifests\/blake3\/.* is a symlink, not a regular file/) },
  { name: 'aim-repo.json is a link (push)', plant: (c) => linkToCopy(c, c.inRepo('aim-repo.json')), args: push('v2'), outcome: refused(/aim-repo\.json is a symlink, not a regular file/) },
  { name: 'models/<m> in the repository is a link (model delete)', plant: (c) => linkToCopy(c, c.inRepo('models/m')), args: () => ['model', 'delete', 'r', 'm'], outcome: refused(/models\/m is a symlink, not a folder/) },
  { name: 'a tag is a link (delete-version)', plant: (c) => linkToCopy(c, c.inRepo(c.pristine.tag)), args: () => ['model', 'delete-version', 'r', 'm', '--tag', 'v1'], outcome: refused(/tags\/v1 is a symlink/) },
  { name: 'a pack is a link (verify)', plant: (c) => linkToCopy(c, c.inRepo(c.pristine.pack)), args: () => ['verify', 'r'], outcome: refused(/is a symlink, not a regular file/) },
  // Links planted in AIM_HOME: the caches are skipped, never read or written through.
  { name: 'AIM_HOME/cache is a link (push, then pull)', plant: async (c) => { await mkdir(c.ws.home, { recursive: true }); await symlink(c.outside, join(c.ws.home, 'cache')); }, args: push('v2'), outcome: { ok: async (c) => expectSameTree(await pulled(c, 'v2'), c.model) } },
  { name: 'AIM_HOME/cache/index is a link (pull)', plant: async (c) => { await mkdir(join(c.ws.home, 'cache'), { recursive: true }); await symlink(c.outside, join(c.ws.home, 'cache', 'index')); }, args: pull, outcome: pulledIntact },
  { name: 'a FIFO in AIM_HOME\'s index cache (pull)', plant: (c) => plantInCache(c, 'index', (folder) => mkfifo(join(folder, c.pristine.index.split('/').at(-1)!))), args: pull, outcome: pulledIntact },
  { name: 'a FIFO at AIM_HOME\'s stat cache (push, then pull)', plant: (c) => plantInCache(c, 'stat', (folder, id) => mkfifo(join(folder, `${id}.json`)), true), args: push('v2'), outcome: { ok: async (c) => expectSameTree(await pulled(c, 'v2'), c.model) } },
  // FIFOs where files belong: an open() of one would block forever (and hold the process's exit).
  { name: 'a FIFO at a tag (pull)', plant: (c) => fifo(c.inRepo(c.pristine.tag)), args: pull, outcome: refused(/tags\/v1 is a FIFO, not a regular file/) },
  { name: 'a FIFO at a tag (push over it)', plant: (c) => fifo(c.inRepo(c.pristine.tag)), args: push('v1'), outcome: refused(/tags\/v1 is a FIFO/) },
  { name: 'a FIFO at a pack', plant: (c) => fifo(c.inRepo(c.pristine.pack)), args: pull, outcome: refused(/is a FIFO, not a regular file/) },
  { name: 'a FIFO at an index file', plant: (c) => fifo(c.inRepo(c.pristine.index)), args: pull, outcome: refused(/missing from repository r/) },
  { name: 'a FIFO at the manifest', plant: (c) => fifo(c.inRepo(c.pristine.manifest)), args: pull, outcome: refused(/manifests\/blake3\/.* is a FIFO, not a regular file/) },
  { name: 'a FIFO at aim-repo.json', plant: (c) => fifo(c.inRepo('aim-repo.json')), args: push('v2'), outcome: refused(/aim-repo\.json is a FIFO, not a regular file/) },
  { name: 'a FIFO at a DEST/.aim journal', plant: pullAfter((c) => mkfifo(join(c.dest, '.aim', 'partial', `${c.pristine.weightsHex}.journal`))), args: pull, outcome: refused(/\.journal is a FIFO, not a regular file/) },
  { name: 'a FIFO at DEST/.aim/state.json', plant: pullAfter((c) => mkfifo(join(c.dest, '.aim', 'state.json'))), args: pull, outcome: refused(/state\.json is a FIFO, not a regular file/) },
  { name: 'a FIFO at DEST/.aim/partial/<digest>', plant: pullAfter((c) => mkfifo(join(c.dest, '.aim', 'partial', c.pristine.weightsHex))), args: pull, outcome: refused(/partial\/[0-9a-f]{64} is a FIFO, not a regular file/) },
  { name: 'a FIFO under a final file name in DEST is replaced', plant: async (c) => { await mkdir(c.dest); await mkfifo(join(c.dest, 'weights.bin')); }, args: pull, outcome: pulledIntact },
  { name: 'a FIFO at a pack (verify)', plant: (c) => fifo(c.inRepo(c.pristine.pack)), args: () => ['verify', 'r'], outcome: refused(/is a FIFO, not a regular file/) },
  // Devices: endless bytes.
  { name: 'a device node at a tag', plant: (c) => zeroDevice(c.inRepo(c.pristine.tag)), args: pull, outcome: refused(/tags\/v1 is a device, not a regular file/) },
  { name: 'a device node at a pack', plant: (c) => zeroDevice(c.inRepo(c.pristine.pack)), args: pull, outcome: refused(/is a device, not a regular file/) },
  // Names the file system cannot hold, and a destination it cannot write.
  { name: 'a destination name longer than the file system allows', plant: async () => undefined, args: (c) => ['pull', 'r/m:v1', join(c.ws.dir, 'x'.repeat(300))], outcome: refused(/file name too long/) },
  { name: 'a manifest naming a file longer than the file system allows', plant: plantLongNameVersion, args: (c) => ['pull', 'r/m:long', c.dest], outcome: refused(/file name too long|longer than 255 bytes/) }, // the manifest's path rule may refuse it first
  {
    name: 'a read-only destination',
    plant: (c) => mountTmpfs(c.dest, 'ro,size=1m'),
    args: pull,
    outcome: refused(/cannot write .*: the file system is read-only/),
  },
];

/** Pulls `r/m:<tag>` into a fresh folder of the case; returns the folder. */
async function pulled(c: Case, tag: string): Promise<string> {
  const dest = c.ws.path(`pulled-${tag}`);
  expect((await runBounded(c.ws, ['pull', `r/m:${tag}`, dest], BOUNDS)).code).toBe(0);
  return dest;
}

/**
 * Makes AIM_HOME/cache/<kind> as aim names it for the case's repository (a folder of its own per repository for the
 * index cache, one file per repository for the stat cache) and lets `plant` put something there.
 */
async function plantInCache(c: Case, kind: 'index' | 'stat', plant: (folder: string, id: string) => Promise<void>, flat = false): Promise<void> {
  const id = createHash('sha256').update(c.repo).digest('hex').slice(0, 16);
  const folder = flat ? join(c.ws.home, 'cache', kind) : join(c.ws.home, 'cache', kind, id);
  await mkdir(folder, { recursive: true });
  await plant(folder, id);
}

/** A version whose manifest names weights.bin by a 300-character name, committed under the tag `long`. */
async function plantLongNameVersion(c: Case): Promise<void> {
  const manifest = JSON.parse(await readFile(c.inRepo(c.pristine.manifest), 'utf8'));
  for (const file of manifest.files) if (file.path === 'weights.bin') file.path = `${'w'.repeat(300)}.bin`;
  const bytes = Buffer.from(`${JSON.stringify(manifest)}\n`);
  const hex = (await digestOf(bytes)).slice(7);
  await mkdir(c.inRepo(`manifests/blake3/${hex.slice(0, 2)}`), { recursive: true });
  await writeFile(c.inRepo(`manifests/blake3/${hex.slice(0, 2)}/${hex}`), bytes);
  const tag = JSON.parse(await readFile(c.inRepo(c.pristine.tag), 'utf8'));
  await writeFile(c.inRepo('models/m/tags/long'), JSON.stringify({ ...tag, digest: `blake3:${hex}` }));
}

const unmounts: string[] = [];

/** Mounts a tmpfs at `dir` (tests run as root, where mounting is permitted; a read-only one stops root too). */
async function mountTmpfs(dir: string, options: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await run('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir]);
  unmounts.push(dir);
}

/** The repository's only file under `folder` (the one push made). */
async function onlyFile(root: string, folder: string): Promise<string> {
  const entries = await readdir(join(root, folder), { recursive: true, withFileTypes: true });
  const files = entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name).slice(root.length + 1));
  expect(files, `files under ${folder}`).toHaveLength(1);
  return files[0]!;
}

describe('hostile file system: links, FIFOs, devices, long names, read-only places', () => {
  let pristine: Pristine;

  beforeAll(async () => {
    const ws = await createWorkspace((dir) => ({ r: { type: 'local', path: `${dir}/repo` } }));
    await generateModel(ws.path('model'), {
      files: [{ path: 'weights.bin', size: 1536 * KiB }, { path: 'config.json', size: 300 }, { path: 'sub/extra.bin', size: 200 * KiB }],
      seed: 'hostile-fs',
    });
    const pushed = await ws.json(['push', 'r/m:v1', 'model']);
    const manifest = JSON.parse(await readFile(ws.path('repo', 'manifests', 'blake3', pushed.digest.slice(7, 9), pushed.digest.slice(7)), 'utf8'));
    const weights = manifest.files.find((file: { path: string }) => file.path === 'weights.bin');
    pristine = {
      ws,
      tag: 'models/m/tags/v1',
      pack: await onlyFile(ws.path('repo'), 'packs'),
      index: await onlyFile(ws.path('repo'), 'index'),
      manifest: await onlyFile(ws.path('repo'), 'manifests'),
      weightsHex: weights.digest.slice(7),
    };
  });
  afterAll(async () => {
    for (const dir of unmounts) await run('umount', [dir]).catch(() => undefined);
    await pristine?.ws.cleanup();
  });

  it('has at least 20 cases', () => expect(CASES.length).toBeGreaterThanOrEqual(20));

  it.each(CASES.map((hostile) => [hostile.name, hostile] as const))('%s', async (_name, hostile) => {
    const ws = await createWorkspace((dir) => ({ r: { type: 'local', path: `${dir}/repo` } }));
    try {
      await cp(pristine.ws.path('repo'), ws.path('repo'), { recursive: true });
      const c: Case = {
        name: hostile.name,
        ws,
        repo: ws.path('repo'),
        outside: ws.path('outside'),
        dest: ws.path('dest'),
        model: pristine.ws.path('model'),
        pristine,
        inRepo: (relative) => join(ws.path('repo'), ...relative.split('/')),
      };
      await mkdir(c.outside);
      await writeFile(join(c.outside, 'sentinel.txt'), 'must never change\n');
      await hostile.plant(c);
      const before = await snapshot(c.outside);
      if ('refused' in hostile.outcome) {
        await expectRefused(ws, hostile.args(c), hostile.outcome.refused, BOUNDS);
      } else {
        const result = await runBounded(ws, hostile.args(c), BOUNDS);
        expect(result.code, result.stderr).toBe(0);
        await hostile.outcome.ok(c);
      }
      await expectUnchanged(c.outside, before);
    } finally {
      await ws.cleanup().catch(() => undefined);
    }
  });

  it('a link left under a final name in DEST is replaced by the pulled file, not written through', async () => {
    // The effect the table's `pulledIntact` cases rely on, checked on the link itself.
    const ws = await createWorkspace((dir) => ({ r: { type: 'local', path: `${dir}/repo` } }));
    try {
      await cp(pristine.ws.path('repo'), ws.path('repo'), { recursive: true });
      await mkdir(ws.path('dest'));
      await writeFile(ws.path('target.txt'), 'outside\n');
      await symlink(ws.path('target.txt'), ws.path('dest', 'config.json'));
      expect((await runBounded(ws, ['pull', 'r/m:v1', ws.path('dest')], BOUNDS)).code).toBe(0);
      expect((await lstat(ws.path('dest', 'config.json'))).isFile()).toBe(true);
      expect(await readFile(ws.path('target.txt'), 'utf8')).toBe('outside\n');
    } finally {
      await ws.cleanup();
    }
  });
});
