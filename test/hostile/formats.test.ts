// Every format aim reads back, damaged or written by an attacker, through the real CLI with a time and memory bound:
// each case expects one plain error line naming the file (or, for caches, a command that still succeeds), no
// change outside the repository's own bookkeeping, the secret beside the repository never printed, and where a
// case damages one model, the other still listing, pulling and verifying.
import { appendFile, mkdir, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectUserError, treeDigests } from '../helpers/cli.js';
import { expectUnchanged, runBounded, snapshot } from './harness.js';
import { buildPristine, damagedWorkspace, dropPristine, expectGoodStillWorks, SECRET, type Damaged } from './repository-fixture.js';

const MiB = 1024 * 1024;
const PACK_ID = 'ab'.repeat(16);
const DIGEST = `blake3:${'cd'.repeat(32)}`;

interface Case {
  name: string;
  damage(ctx: Damaged): Promise<void>;
  /** The command that must be refused (default: pulling the damaged model). */
  args?: string[];
  /** What the one error line must say: which file, and why. */
  error: RegExp;
  /** The damage touches one model only: `good` must still list, pull and verify. */
  othersWork?: boolean;
}

const pullVictim = ['pull', 'r/victim:v1', 'dest'];
const pullGood = ['pull', 'r/good:v1', 'dest'];
const pushNew = ['push', 'r/fresh:v1', 'src'];

const setTagDigest = (digest: unknown) => async (ctx: Damaged) => {
  for (const tag of ['v1', 'latest']) await ctx.writeJson(ctx.tagFile('victim', tag), { ...(await ctx.readJson(ctx.tagFile('victim', tag))), digest });
};
const writeTag = (bytes: string | Buffer) => async (ctx: Damaged) => {
  for (const tag of ['v1', 'latest']) await writeFile(ctx.tagFile('victim', tag), bytes);
};
/** A version with a location map reads no index file: without the maps, pulls read the index as before maps. */
const dropMaps = (ctx: Damaged) => rm(ctx.path('locations'), { recursive: true, force: true });
const editIndex = (edit: (index: any) => unknown) => async (ctx: Damaged) => {
  await dropMaps(ctx);
  for (const file of await ctx.indexFiles()) await ctx.writeJson(file, edit(await ctx.readJson(file)));
};
const writeIndex = (bytes: string | Buffer) => async (ctx: Damaged) => {
  await dropMaps(ctx);
  for (const file of await ctx.indexFiles()) await writeFile(file, bytes);
};
const firstPack = (index: any): string => Object.keys(index.packs)[0]!;
const movePack = (to: string) => editIndex((index) => ({ format: 1, packs: { [to]: index.packs[firstPack(index)] } }));
const editEntry = (entry: (e: [string, number, number]) => unknown) =>
  editIndex((index) => {
    const pack = firstPack(index);
    index.packs[pack][0] = entry(index.packs[pack][0]);
    return index;
  });
const editChunking = (change: Record<string, unknown>) => async (ctx: Damaged) => {
  const file = ctx.path('aim-repo.json');
  const metadata = await ctx.readJson(file);
  await ctx.writeJson(file, { ...metadata, chunking: { ...metadata.chunking, ...change } });
};
const manifestWith = (files: unknown) => JSON.stringify({ schemaVersion: 1, mediaType: 'application/vnd.aim.manifest.v1+json', files, annotations: {} });
const plant = (bytes: string) => async (ctx: Damaged) => void (await ctx.plantManifest('victim', bytes));
const TAG = /corrupt tag at models\/victim\/tags\/(v1|latest) in .*\/repo: /;
const MANIFEST = /corrupt manifest at blake3:[0-9a-f]{64} in repository r: /;
const INDEX = /corrupt index file at index\/[0-9a-f]{32}\.json in .*\/repo: /;
const REPO_JSON = /corrupt repository settings at aim-repo\.json in .*\/repo: /;

const cases: Case[] = [
  // Tags: a digest becomes a key, so it must be a digest; a bad tag breaks its model only.
  { name: 'tag digest blake3:/../../dev/zero', damage: setTagDigest('blake3:/../../dev/zero'), error: new RegExp(`${TAG.source}digest: "blake3:/\\.\\./\\.\\./dev/zero" is not a digest`), othersWork: true },
  { name: 'tag digest reaching the secret beside the repository', damage: setTagDigest('blake3:/../../../secret/passwd'), error: TAG, othersWork: true },
  { name: 'tag digest in upper case', damage: setTagDigest(DIGEST.toUpperCase().replace('BLAKE3', 'blake3')), error: TAG, othersWork: true },
  { name: 'tag digest of the wrong type', damage: setTagDigest({ $ne: null }), error: new RegExp(`${TAG.source}digest: expected string, got an object`), othersWork: true },
  { name: 'empty tag file', damage: writeTag(''), error: new RegExp(`${TAG.source}the file is empty`), othersWork: true },
  { name: 'garbage tag file', damage: writeTag(Buffer.from([0xff, 0x00, 0x1b, 0x5b, 0x32, 0x4a, 0x7b])), error: new RegExp(`${TAG.source}not valid JSON`), othersWork: true },
  { name: 'truncated tag file', damage: writeTag('{"digest": "blake3:'), error: new RegExp(`${TAG.source}not valid JSON`), othersWork: true },
  { name: 'tag with a negative file count', damage: async (ctx) => ctx.writeJson(ctx.tagFile('victim'), { digest: DIGEST, pushedAt: new Date().toISOString(), size: 1, files: -1 }), error: /files: -1 is negative/, othersWork: true },
  { name: 'tag of 1 MiB', damage: writeTag(`{"pad":"${'x'.repeat(MiB)}"}`), error: new RegExp(`${TAG.source}\\d+ bytes, more than`), othersWork: true },
  // Manifests stored under their true digest by whoever can write the repository.
  { name: 'manifest with a chunk of 1 TiB', damage: plant(manifestWith([{ path: 'a', size: 2 ** 40, mode: 420, digest: DIGEST, chunks: [{ digest: DIGEST, size: 2 ** 40 }] }])), error: new RegExp(`${MANIFEST.source}files\\.0\\.chunks\\.0\\.size: 1099511627776 is more than`), othersWork: true },
  { name: 'manifest with a ../ path', damage: plant(manifestWith([{ path: '../../secret/passwd', size: 0, mode: 420, digest: DIGEST, chunks: [] }])), error: /files\.0\.path: "\.\.\/\.\.\/secret\/passwd" has a "\.\." segment/, othersWork: true },
  { name: 'empty manifest', damage: plant(''), error: new RegExp(`${MANIFEST.source}the file is empty`), othersWork: true },
  { name: 'truncated manifest', damage: plant(manifestWith([]).slice(0, 30)), error: new RegExp(`${MANIFEST.source}not valid JSON`), othersWork: true },
  { name: 'manifest whose files are a string', damage: plant(manifestWith('all of them')), error: /files: expected Array, got "all of them"/, othersWork: true },
  // Index files: pack ids become keys, offsets and sizes become reads.
  { name: 'index naming a ../ pack id', damage: movePack('../../../secret/passwd'), args: pullGood, error: new RegExp(`${INDEX.source}packs: "\\.\\./\\.\\./\\.\\./secret/passwd" is not a pack id`) },
  { name: 'index naming an absolute pack id', damage: movePack('/etc/passwd'), args: pullGood, error: /is not a pack id/ },
  { name: 'index entry asking for 1 TiB', damage: editEntry(([digest, offset]) => [digest, offset, 2 ** 40]), args: pullGood, error: new RegExp(`${INDEX.source}packs\\.[0-9a-f]{32}\\.0\\.2: 1099511627776 is more than`) },
  { name: 'index entry at an offset past any pack', damage: editEntry(([digest, , size]) => [digest, 2 ** 50, size]), args: pullGood, error: /is more than 1073741824/ },
  { name: 'index entry with a ../ digest', damage: editEntry(([, offset, size]) => ['blake3:../../secret/passwd', offset, size]), args: pullGood, error: /is not a digest/ },
  { name: 'empty index file', damage: writeIndex(''), args: pullGood, error: new RegExp(`${INDEX.source}the file is empty`) },
  { name: 'garbage index file', damage: writeIndex(Buffer.from([1, 2, 3, 0x1b])), args: pullGood, error: new RegExp(`${INDEX.source}not valid JSON`) },
  { name: 'index file of a newer format', damage: editIndex((index) => ({ ...index, format: 2 })), args: pullGood, error: /index\/[0-9a-f]{32}\.json in .* has format 2; this aim reads 1/ },
  // aim-repo.json: the chunking drives every push's time and memory.
  { name: 'chunking with minSize 1', damage: editChunking({ minSize: 1 }), args: pushNew, error: new RegExp(`${REPO_JSON.source}chunking\\.minSize: 1 is less than 1024`) },
  { name: 'chunking with avgSize above maxSize', damage: editChunking({ avgSize: 8 * MiB }), args: pushNew, error: /chunk sizes must rise/ },
  { name: 'chunking with maxSize of 1 TiB', damage: editChunking({ maxSize: 2 ** 40 }), args: pushNew, error: /chunking\.maxSize: 1099511627776 is more than/ },
  { name: 'chunking sizes of the wrong type', damage: editChunking({ minSize: '128k' }), args: pushNew, error: /chunking\.minSize: expected number, got "128k"/ },
  { name: 'empty aim-repo.json', damage: async (ctx) => writeFile(ctx.path('aim-repo.json'), ''), args: pushNew, error: new RegExp(`${REPO_JSON.source}the file is empty`) },
  { name: 'garbage aim-repo.json', damage: async (ctx) => writeFile(ctx.path('aim-repo.json'), '\u001b]0;pwned\u0007'), args: pushNew, error: new RegExp(`${REPO_JSON.source}not valid JSON`) },
  // model_repos.yaml: the user's own file, but often shared and copied around.
  { name: 'YAML alias bomb', damage: async (ctx) => writeFile(ctx.ws.config, aliasBomb()), args: ['repo', 'list'], error: /model_repos\.yaml: cannot be read: .*alias/i },
  { name: 'config of 17 MiB', damage: async (ctx) => writeFile(ctx.ws.config, `# ${'x'.repeat(17 * MiB)}\n`), args: ['repo', 'list'], error: /config file .*model_repos\.yaml is \d+ bytes, more than/ },
  { name: 'config with a repository given twice', damage: async (ctx) => writeFile(ctx.ws.config, `repositories:\n  r: {type: local, path: ${ctx.repo}}\n  r: {type: local, path: /tmp}\n`), args: ['repo', 'list'], error: /repositories\.r is given twice/ },
  { name: 'config values of the wrong type', damage: async (ctx) => writeFile(ctx.ws.config, `repositories:\n  r: {type: local, path: ${ctx.repo}, concurrency: many}\nkamiwaza: 5\nmodels: [1]\n`), args: ['repo', 'list'], error: /concurrency must be a whole number.*"models" must be a mapping.*"kamiwaza" must be a mapping/ },
  { name: 'config nested 100,000 deep', damage: async (ctx) => writeFile(ctx.ws.config, `repositories: ${'['.repeat(100_000)}`), args: ['repo', 'list'], error: /model_repos\.yaml/ },
  // Deployment records in AIM_HOME: the only memory of a running server.
  { name: 'garbage deployment record', damage: async (ctx) => deployment(ctx, 'tiny', '\u0000\u0001'), args: ['stop', 'tiny'], error: /corrupt deployment record at .*deployments\/tiny\.json: not valid JSON/ },
  { name: 'deployment record with a pid of the wrong type', damage: async (ctx) => deployment(ctx, 'tiny', JSON.stringify(record({ pid: '1; rm -rf /' }))), args: ['stop', 'tiny'], error: /deployments\/tiny\.json: pid: expected number, got "1; rm -rf \/"/ },
  { name: 'deployment record naming pid 1', damage: async (ctx) => deployment(ctx, 'tiny', JSON.stringify(record({ pid: 1 }))), args: ['stop', 'tiny'], error: /pid: 1 is not a process aim could have started/ },
];

function aliasBomb(): string {
  const lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
  for (let i = 1; i < 12; i++) lines.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);
  return `${lines.join('\n')}\nrepositories: {}\n`;
}

function record(change: Record<string, unknown>): Record<string, unknown> {
  return { name: 'tiny', engine: 'embedded', model: 'r/good:v1', modelId: 'r/good:v1', quant: 'q6_k', modelPath: '/x.gguf', endpoint: 'http://127.0.0.1:1/v1', startedAt: new Date().toISOString(), ...change };
}

async function deployment(ctx: Damaged, name: string, text: string): Promise<void> {
  await mkdir(join(ctx.ws.home, 'deployments'), { recursive: true });
  await writeFile(join(ctx.ws.home, 'deployments', `${name}.json`), text);
}

describe('hostile formats: every file aim reads back', () => {
  beforeAll(buildPristine);
  afterAll(dropPristine);

  it.each(cases)('$name', async ({ damage, args = pullVictim, error, othersWork }) => {
    const ctx = await damagedWorkspace();
    try {
      await damage(ctx);
      const before = await snapshot(ctx.ws.dir, ['aim-home', 'dest']);
      const result = await runBounded(ctx.ws, args);
      expectUserError(result, error);
      expect(result.stderr).not.toContain(SECRET);
      await expectUnchanged(ctx.ws.dir, before, ['aim-home', 'dest']);
      if (othersWork) await expectGoodStillWorks(ctx);
    } finally {
      await ctx.ws.cleanup();
    }
  });
});

/** Damage aim must take in its stride: caches it can rebuild, packs no index names. The command still succeeds. */
interface Tolerated {
  name: string;
  damage(ctx: Damaged): Promise<void>;
  args: string[];
  /** What must hold after the command succeeded. */
  check?(ctx: Damaged): Promise<void>;
}

/** A pending record for the push whose id begins PACK_ID: the next push takes back that push's packs. */
const plantPending = async (ctx: Damaged) => {
  await mkdir(ctx.path('pending'), { recursive: true });
  await writeFile(ctx.path('pending', PACK_ID.slice(0, 16)), JSON.stringify({ startedAt: new Date().toISOString() }));
};
const plantPack = (bytes: Buffer) => async (ctx: Damaged) => {
  await plantPending(ctx);
  await mkdir(ctx.path('packs', PACK_ID.slice(0, 2)), { recursive: true });
  await writeFile(ctx.path('packs', PACK_ID.slice(0, 2), PACK_ID), bytes);
};
const footer = (json: string, claimedLength = Buffer.byteLength(json)) => {
  const length = Buffer.alloc(4);
  length.writeUInt32LE(claimedLength);
  return Buffer.concat([Buffer.alloc(1000, 7), Buffer.from(json), length]);
};
const pulledTwice = (state: string) => async (ctx: Damaged) => {
  const first = await runBounded(ctx.ws, pullGood);
  expect(first.code, first.stderr).toBe(0);
  await writeFile(join(ctx.ws.path('dest'), '.aim', 'state.json'), state);
};
const samePull = async (ctx: Damaged) => {
  expect(Object.keys(await treeDigests(ctx.ws.path('dest'))).sort()).toEqual(['a.bin', 'sub/b.txt']);
  expect((await readFile(ctx.ws.path('dest', 'sub', 'b.txt'))).length).toBe(10 * 1024);
};
const freshPulls = async (ctx: Damaged) => {
  const pulled = await runBounded(ctx.ws, ['pull', 'r/fresh:v1', 'fresh-copy']);
  expect(pulled.code, pulled.stderr).toBe(0);
};

/** A file aim wrote, grown (sparse, so the disk is spared) far past what its format allows: it must not be read. */
const OVERLONG = 1.5 * 1024 * MiB;
const pulledThenGrown = (name: string) => async (ctx: Damaged) => {
  const first = await runBounded(ctx.ws, pullGood);
  expect(first.code, first.stderr).toBe(0);
  await truncate(join(ctx.ws.path('dest'), '.aim', name), OVERLONG);
};
const cacheGrown = (kind: 'stat' | 'index') => async (ctx: Damaged) => {
  // The index cache fills when a command reads the whole index: a pull of a version without a location map.
  if (kind === 'index') await dropMaps(ctx);
  const pushed = await runBounded(ctx.ws, kind === 'index' ? pullGood : ['push', 'r/fresh:v0', 'src']);
  expect(pushed.code, pushed.stderr).toBe(0);
  const files = (await readdir(join(ctx.ws.home, 'cache', kind), { recursive: true, withFileTypes: true })).filter((entry) => entry.isFile());
  expect(files.length).toBeGreaterThan(0);
  for (const file of files) await truncate(join(file.parentPath, file.name), OVERLONG);
};

/** A pack far past the size aim writes (sparse), with a well-formed footer naming a chunk near its end. */
const plantSparsePack = async (ctx: Damaged) => {
  await plantPending(ctx);
  const path = ctx.path('packs', PACK_ID.slice(0, 2), PACK_ID);
  await mkdir(ctx.path('packs', PACK_ID.slice(0, 2)), { recursive: true });
  await writeFile(path, '');
  await truncate(path, OVERLONG);
  const json = JSON.stringify({ chunks: [[DIGEST, OVERLONG - 1000, 100]] });
  const length = Buffer.alloc(4);
  length.writeUInt32LE(Buffer.byteLength(json));
  await appendFile(path, Buffer.concat([Buffer.from(json), length]));
};

const tolerated: Tolerated[] = [
  { name: 'an unindexed pack whose footer claims 4 GiB', damage: plantPack(footer('{}', 0xfffffff0)), args: pushNew, check: freshPulls },
  { name: 'an unindexed pack whose footer lists chunks past its bytes', damage: plantPack(footer(JSON.stringify({ chunks: [[DIGEST, 0, 10 * MiB]] }))), args: pushNew, check: freshPulls },
  { name: 'an unindexed pack whose footer lists more chunks than bytes', damage: plantPack(footer(JSON.stringify({ chunks: Array.from({ length: 2000 }, (_, i) => [DIGEST, i % 900, 1]) }))), args: pushNew, check: freshPulls },
  { name: 'an unindexed sparse pack of 1.5 GiB whose footer lists a chunk at its end', damage: plantSparsePack, args: pushNew, check: freshPulls },
  { name: 'an unindexed pack of two bytes', damage: plantPack(Buffer.from([1, 2])), args: pushNew, check: freshPulls },
  { name: 'garbage install state in DEST/.aim', damage: pulledTwice('\u0000garbage'), args: pullGood, check: samePull },
  { name: 'install state of the wrong types', damage: pulledTwice(JSON.stringify({ version: 1, files: { 'a.bin': { digest: '../x', size: 'big', mtimeMs: -1, ino: null } } })), args: pullGood, check: samePull },
  { name: 'garbage stat cache in AIM_HOME', damage: damagedStatCache('{"/": 1, "__proto__": {"size": 1}'), args: pushNew, check: freshPulls },
  { name: 'stat cache entries of the wrong types', damage: damagedStatCache(null), args: pushNew, check: freshPulls },
  { name: 'an install state of 1.5 GiB (sparse) in DEST/.aim', damage: pulledThenGrown('state.json'), args: pullGood, check: samePull },
  { name: 'an installed manifest.json of 1.5 GiB (sparse) in DEST/.aim', damage: pulledThenGrown('manifest.json'), args: pullGood, check: samePull },
  { name: 'a stat cache of 1.5 GiB (sparse) in AIM_HOME', damage: cacheGrown('stat'), args: pushNew, check: freshPulls },
  { name: 'cached index files of 1.5 GiB (sparse) in AIM_HOME', damage: cacheGrown('index'), args: ['pull', 'r/good:v1', 'again'], check: async (ctx) => expect(Object.keys(await treeDigests(ctx.ws.path('again'))).sort()).toEqual(['a.bin', 'sub/b.txt']) },
  { name: 'garbage catalog index.json', damage: async (ctx) => writeFile(ctx.path('index.json'), '[[[['), args: pushNew, check: freshPulls },
  { name: 'an empty model_repos.yaml', damage: async (ctx) => writeFile(ctx.ws.config, ''), args: ['repo', 'list'] },
];

/** Pushes once (filling the stat cache), then replaces each cache entry with `text` (null: with wrongly typed values). */
function damagedStatCache(text: string | null) {
  return async (ctx: Damaged) => {
    const pushed = await runBounded(ctx.ws, ['push', 'r/fresh:v0', 'src']);
    expect(pushed.code, pushed.stderr).toBe(0);
    const folder = join(ctx.ws.home, 'cache', 'stat');
    const files = await readdir(folder);
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      const entries = JSON.parse(await readFile(join(folder, file), 'utf8'));
      const wrong = Object.fromEntries(Object.keys(entries).map((path) => [path, { size: 'x', mtimeMs: {}, ino: [], chunking: 1, file: { chunks: 'all' } }]));
      await writeFile(join(folder, file), text ?? JSON.stringify(wrong));
    }
  };
}

describe('hostile formats: damage aim recovers from', () => {
  beforeAll(buildPristine);
  afterAll(dropPristine);

  it.each(tolerated)('$name', async ({ damage, args, check }) => {
    const ctx = await damagedWorkspace();
    try {
      await damage(ctx);
      const result = await runBounded(ctx.ws, args);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).not.toMatch(/internal error|^\s+at /m);
      await check?.(ctx);
    } finally {
      await ctx.ws.cleanup();
    }
  });
});

describe('hostile formats: one bad model among good ones', () => {
  beforeAll(buildPristine);
  afterAll(dropPristine);

  it('a garbage tag is reported by list and verify, every other model keeps working, and the model still deletes', async () => {
    const ctx = await damagedWorkspace();
    try {
      await writeTag('\u001b[2J garbage')(ctx);
      const list = await runBounded(ctx.ws, ['model', 'list', 'r', '--json']);
      expect(list.code, list.stderr).toBe(0);
      expect(list.json().models.map((m: { name: string; versions: number }) => [m.name, m.versions])).toEqual([['good', 1]]);
      expect(list.json().problems.map((p: { key: string }) => p.key)).toEqual(['models/victim/tags/latest', 'models/victim/tags/v1']);
      expect(list.stderr).toMatch(/^aim: warning: skipped models\/victim\/tags\/latest: corrupt tag at models\/victim\/tags\/latest in .*: not valid JSON$/m);
      expect(list.stderr).not.toContain('\u001b');
      const verify = await runBounded(ctx.ws, ['verify', 'r', '--json']);
      expectUserError(verify, /missing or corrupt objects in r/);
      const problems = verify.json().problems as Array<{ kind: string; digest: string }>;
      expect(problems.map((p) => [p.kind, p.digest]).sort()).toEqual([
        ['bad-tag', 'models/victim/tags/latest'],
        ['bad-tag', 'models/victim/tags/v1'],
      ]);
      expect(verify.json()).toMatchObject({ versions: 1, tags: 2 }); // good:v1 and good:latest were verified
      await expectGoodStillWorks(ctx);
      const deleted = await runBounded(ctx.ws, ['model', 'delete', 'r', 'victim', '--json']);
      expect(deleted.code, deleted.stderr).toBe(0);
      const after = await runBounded(ctx.ws, ['model', 'list', 'r', '--json']);
      expect(after.stderr).toBe('');
      expect(after.json().models.map((m: { name: string }) => m.name)).toEqual(['good']);
    } finally {
      await ctx.ws.cleanup();
    }
  });

  it('verify reports a manifest whose chunk sizes disagree with the stored chunks', async () => {
    const ctx = await damagedWorkspace();
    try {
      const inspect = await runBounded(ctx.ws, ['inspect', 'r/victim:v1', '--json']);
      const manifest = inspect.json().manifest;
      // Two chunks trade a byte: the sizes still add up to the file's, so only the stored chunks can tell.
      const [first, second] = manifest.files[0].chunks;
      first.size += 1;
      second.size -= 1;
      await ctx.plantManifest('victim', `${JSON.stringify(manifest)}\n`);
      const verify = await runBounded(ctx.ws, ['verify', 'r', 'victim', '--json']);
      expectUserError(verify, /2 missing or corrupt objects in r/);
      const problems = verify.json().problems as Array<{ kind: string; message: string }>;
      expect(problems.map((p) => p.kind)).toEqual(['bad-manifest', 'bad-manifest']);
      expect(problems.map((p) => p.message).join('\n')).toMatch(/is stored with \d+ bytes but the manifest says \d+/);
      await expectGoodStillWorks(ctx);
    } finally {
      await ctx.ws.cleanup();
    }
  });
});
