// The pieces the hostile file-system cases are built from (filesystem.test.ts runs them): what a case sees, how it
// plants a link, a FIFO or a device, and how it expects the command to end.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'vitest';
import { digestOf } from '../../src/core/format/digest.js';
import { expectSameTree, type Workspace } from '../helpers/cli.js';
import { runBounded } from './harness.js';

export const run = promisify(execFile);
export const KiB = 1024;
export const BOUNDS = { timeoutMs: 20_000 };

/** One pushed version in a pristine repository, copied into each case's own workspace. */
export interface Pristine {
  ws: Workspace;
  /** Repository-relative paths of the version's tag, pack, index file and manifest. */
  tag: string;
  pack: string;
  index: string;
  manifest: string;
  /** Hex digest of weights.bin: the name of its partial file in DEST/.aim/partial. */
  weightsHex: string;
}

export interface Case {
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

export type Outcome = { refused: RegExp } | { ok: (c: Case) => Promise<void> };

export interface HostileCase {
  name: string;
  plant(c: Case): Promise<void>;
  args(c: Case): string[];
  outcome: Outcome;
}

export const mkfifo = async (path: string): Promise<void> => void (await run('mkfifo', [path]));
/** Replaces the file at `path` with what `make` puts there. */
export const replaceWith = (make: (path: string) => Promise<unknown>) => async (path: string) => {
  await rm(path, { recursive: true, force: true });
  await make(path);
};
export const fifo = replaceWith(mkfifo);
/** Copies `path` into the sentinel folder and puts a link to the copy in its place: a write through it would show. */
export const linkToCopy = async (c: Case, path: string) => {
  const copy = join(c.outside, `copy-of-${path.split('/').at(-1)}`);
  await cp(path, copy, { recursive: true });
  await replaceWith((at) => symlink(copy, at))(path);
};
export const zeroDevice = replaceWith((path) => run('mknod', [path, 'c', '1', '5'])); // what /dev/zero is

export const pull = (c: Case) => ['pull', 'r/m:v1', c.dest];
/** Drops the version's location map: its pull then reads the index files, as for a version pushed before maps. */
export const withoutMap = (plant: (c: Case) => Promise<void>) => async (c: Case) => {
  await rm(c.inRepo('locations'), { recursive: true, force: true });
  await plant(c);
};
export const push = (tag: string) => (c: Case) => ['push', `r/m:${tag}`, c.model];
export const pullAfter = (prepare: (c: Case) => Promise<void>) => async (c: Case) => {
  await mkdir(join(c.dest, '.aim', 'partial'), { recursive: true });
  await prepare(c);
};
export const refused = (pattern: RegExp): Outcome => ({ refused: pattern });
/** The pull succeeded and DEST holds exactly the version (what was planted under a final name was replaced). */
export const pulledIntact: Outcome = { ok: (c) => expectSameTree(c.dest, c.model) };
/** The push of v2 finished: it pulls as the model. */
export const pushedIntact: Outcome = { ok: async (c) => expectSameTree(await pulled(c, 'v2'), c.model) };

/** Pulls `r/m:<tag>` into a fresh folder of the case; returns the folder. */
export async function pulled(c: Case, tag: string): Promise<string> {
  const dest = c.ws.path(`pulled-${tag}`);
  expect((await runBounded(c.ws, ['pull', `r/m:${tag}`, dest], BOUNDS)).code).toBe(0);
  return dest;
}

/**
 * Makes AIM_HOME/cache/<kind> as aim names it for the case's repository (a folder of its own per repository for the
 * index cache, one file per repository and folder pushed for the stat cache) and lets `plant` put something there.
 */
export async function plantInCache(c: Case, kind: 'index' | 'stat', plant: (folder: string, id: string) => Promise<void>, flat = false): Promise<void> {
  const id = kind === 'stat' ? await statCacheId(c) : sha(c.repo).slice(0, 16);
  const folder = flat ? join(c.ws.home, 'cache', kind) : join(c.ws.home, 'cache', kind, id);
  await mkdir(folder, { recursive: true });
  await plant(folder, id);
}

const sha = (text: string): string => createHash('sha256').update(text).digest('hex');

/** The stat cache's file name, less `.json`: the repository's location, its creation (aim-repo.json's createdAt), the folder pushed. */
export async function statCacheId(c: Case): Promise<string> {
  const { createdAt } = JSON.parse(await readFile(c.inRepo('aim-repo.json'), 'utf8'));
  return `${sha(c.repo).slice(0, 16)}.${sha(createdAt ?? '').slice(0, 8)}.${sha(resolve(c.model)).slice(0, 16)}`;
}

/** A version whose manifest names weights.bin by a 300-character name, committed under the tag `long`. */
export async function plantLongNameVersion(c: Case): Promise<void> {
  const manifest = JSON.parse(await readFile(c.inRepo(c.pristine.manifest), 'utf8'));
  for (const file of manifest.files) if (file.path === 'weights.bin') file.path = `${'w'.repeat(300)}.bin`;
  const bytes = Buffer.from(`${JSON.stringify(manifest)}\n`);
  const hex = (await digestOf(bytes)).slice(7);
  await mkdir(c.inRepo(`manifests/blake3/${hex.slice(0, 2)}`), { recursive: true });
  await writeFile(c.inRepo(`manifests/blake3/${hex.slice(0, 2)}/${hex}`), bytes);
  const tag = JSON.parse(await readFile(c.inRepo(c.pristine.tag), 'utf8'));
  await writeFile(c.inRepo('models/m/tags/long'), JSON.stringify({ ...tag, digest: `blake3:${hex}` }));
}

export const unmounts: string[] = [];

/** Mounts a tmpfs at `dir` (tests run as root, where mounting is permitted; a read-only one stops root too). */
export async function mountTmpfs(dir: string, options: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await run('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir]);
  unmounts.push(dir);
}

/** The repository's only file under `folder` (the one push made). */
export async function onlyFile(root: string, folder: string): Promise<string> {
  const entries = await readdir(join(root, folder), { recursive: true, withFileTypes: true });
  const files = entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name).slice(root.length + 1));
  expect(files, `files under ${folder}`).toHaveLength(1);
  return files[0]!;
}
