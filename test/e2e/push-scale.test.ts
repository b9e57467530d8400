// A push whose cost follows the model, not the repository (issue 21), through the built CLI on real folders: killed
// with SIGKILL at each step of its write order and run again; dedupe across models through key chunks and against
// the model's earlier versions through their location maps, with index files it must never read planted beside;
// hostile key objects; pushes racing each other. Every tag names a version that pulls byte for byte.
import { randomBytes } from 'node:crypto';
import { cp, mkdir, readdir, readFile, rm, stat, symlink, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PUSH_STEPS } from '../../src/settings/test-hooks.js';
import { createWorkspace, expectSameTree, expectUserError, type Workspace } from '../helpers/cli.js';
import { keyChunkBytes } from '../helpers/key-chunk.js';

const MiB = 1024 * 1024;
const BIG = 40 * MiB;

async function filesIn(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name).slice(folder.length + 1));
}

describe('push at scale (local folders)', () => {
  let ws: Workspace;
  let keyHex: string;
  const repos = [...PUSH_STEPS, 'dedupe', 'race', 'stats'];

  beforeAll(async () => {
    ws = await createWorkspace((dir) => Object.fromEntries(repos.map((name) => [name, { type: 'local', path: `${dir}/repos/${name}`, packs: true }])));
    const key = await keyChunkBytes();
    keyHex = key.hex;
    await mkdir(ws.path('big'), { recursive: true });
    await writeFile(ws.path('big', 'a-key.bin'), key.bytes);
    await writeFile(ws.path('big', 'weights.bin'), randomBytes(BIG));
    await mkdir(ws.path('small'), { recursive: true });
    await writeFile(ws.path('small', 'weights.bin'), randomBytes(3 * MiB));
  });
  afterAll(() => ws.cleanup());

  const TOTAL = BIG + 12 * 1024;

  /** What each killed step leaves in the repository, beside the earlier version's files. */
  const left: Record<(typeof PUSH_STEPS)[number], (files: string[]) => void> = {
    pending: (files) => {
      expect(files.filter((file) => file.startsWith('pending/'))).toHaveLength(1);
    },
    pack: (files) => expect(files.filter((file) => file.startsWith('packs/')).length).toBeGreaterThan(1),
    index: (files) => expect(files.some((file) => file.startsWith(`keys/`) && file.endsWith(keyHex))).toBe(false),
    keys: (files) => {
      expect(files.some((file) => file.startsWith('keys/') && file.endsWith(keyHex))).toBe(true);
      expect(files.filter((file) => file.startsWith('locations/'))).toHaveLength(1); // the earlier version's only
    },
    map: (files) => expect(files.filter((file) => file.startsWith('locations/'))).toHaveLength(2),
    manifest: (files) => expect(files.filter((file) => file.startsWith('manifests/'))).toHaveLength(2),
  };

  it.each(PUSH_STEPS)('killed after step "%s": the next push completes, resending nothing that landed, and every tag pulls', async (step) => {
    await ws.json(['push', `${step}/m:v1`, ws.path('small')]);
    const killed = await ws.run(['push', `${step}/m:v2`, ws.path('big')], { env: { AIM_TEST_STOP_AFTER: step } });
    expect(killed.signal).toBe('SIGKILL');
    const files = await filesIn(ws.path('repos', step));
    left[step](files);
    expect(files.filter((file) => file.startsWith('models/')).sort()).toEqual(['models/m/tags/latest', 'models/m/tags/v1']);
    await ws.json(['pull', `${step}/m:latest`, `out-${step}-latest`]);
    await expectSameTree(ws.path(`out-${step}-latest`), ws.path('small'));

    const resumed = await ws.json(['push', `${step}/m:v2`, ws.path('big')]);
    expect(resumed.tagOutcome).toBe('created');
    expect(resumed.bytesTransferred + resumed.bytesSkipped).toBe(TOTAL);
    if (step === 'pending') expect(resumed.bytesTransferred).toBe(TOTAL);
    // At least the first pack is taken back: sealed when the next chunk (up to 2 MiB) no longer fit in 16 MiB, it
    // holds over 13 MiB of chunks (the data is random each run).
    else if (step === 'pack') expect(resumed.bytesTransferred).toBeLessThanOrEqual(TOTAL - 13 * MiB);
    else expect(resumed.bytesTransferred).toBe(0);
    await ws.json(['pull', `${step}/m:v2`, `out-${step}`]);
    await expectSameTree(ws.path(`out-${step}`), ws.path('big'));
    expect((await ws.json(['verify', step])).ok).toBe(true);
    // The resumed push took back the killed one's packs and cleared both pending records; a record that brought no
    // pack back stays for an hour (it may be a push about to store its first pack).
    const pending = (await filesIn(ws.path('repos', step))).filter((file) => file.startsWith('pending/'));
    expect(pending).toEqual(step === 'pending' ? files.filter((file) => file.startsWith('pending/')) : []);
  });

  it('dedupes across models through a key chunk, and against the model\'s last version through its map, reading no other index file', async () => {
    const a = await ws.json(['push', 'dedupe/a:v1', ws.path('big')]);
    expect(a.bytesTransferred).toBe(TOTAL);
    // Index files of someone else that no push of these models may read: garbage, and 1.5 GiB (sparse).
    const index = ws.path('repos', 'dedupe', 'index');
    await writeFile(join(index, `${'f'.repeat(32)}.json`), '{"packs": ');
    await writeFile(join(index, `${'e'.repeat(32)}.json`), '');
    await truncate(join(index, `${'e'.repeat(32)}.json`), 1.5 * 1024 ** 3);

    await cp(ws.path('big'), ws.path('big-copy'), { recursive: true });
    const b = await ws.json(['push', 'dedupe/b:v1', ws.path('big-copy')]);
    expect(b.bytesTransferred).toBe(0); // the key chunk's shard named every chunk of a:v1

    // The same model's next version: learned from v1's map alone (no key object left to help).
    await rm(ws.path('repos', 'dedupe', 'keys'), { recursive: true });
    await cp(ws.path('big'), ws.path('big-v2'), { recursive: true });
    await writeFile(ws.path('big-v2', 'extra.bin'), randomBytes(MiB));
    const v2 = await ws.json(['push', 'dedupe/a:v2', ws.path('big-v2'), '--rehash']);
    expect(v2.bytesTransferred).toBe(MiB);

    // A new model without a key object to lead it anywhere sends everything, and still ignores the planted files.
    const c = await ws.json(['push', 'dedupe/c:v1', ws.path('big-copy'), '--rehash']);
    expect(c.bytesTransferred).toBe(TOTAL);
    for (const [ref, source] of [['b:v1', 'big-copy'], ['a:v2', 'big-v2'], ['c:v1', 'big-copy']] as const) {
      await ws.json(['pull', `dedupe/${ref}`, `dedupe-out-${ref}`]);
      await expectSameTree(ws.path(`dedupe-out-${ref}`), ws.path(source));
    }
  });

  it('a hostile key object (garbage, a link, naming a missing shard) costs only its dedupe: the push succeeds', async () => {
    // Only this key object is there to lead a push to the models pushed before.
    await rm(ws.path('repos', 'dedupe', 'keys'), { recursive: true, force: true });
    const keyPath = ws.path('repos', 'dedupe', 'keys', keyHex.slice(2, 4), keyHex);
    await mkdir(join(keyPath, '..'), { recursive: true });
    let model = 0;
    for (const plant of [
      () => writeFile(keyPath, randomBytes(40)),
      () => writeFile(keyPath, `${'9'.repeat(32)}\n`),
      () => symlink(ws.path('repos', 'dedupe', 'aim-repo.json'), keyPath),
    ]) {
      await rm(ws.path('repos', 'dedupe', 'keys'), { recursive: true, force: true });
      await mkdir(join(keyPath, '..'), { recursive: true });
      await plant();
      const pushed = await ws.json(['push', `dedupe/hostile${++model}:v1`, ws.path('big-copy'), '--rehash']);
      expect(pushed.bytesTransferred).toBe(TOTAL);
      await ws.json(['pull', `dedupe/hostile${model}:v1`, `hostile-out-${model}`]);
      await expectSameTree(ws.path(`hostile-out-${model}`), ws.path('big-copy'));
    }
  });

  it('what a push reads of the index: nothing when unchanged, one shard across models, all of it only for a version without a map', async () => {
    const io = async (args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ stats: any; stderr: string }> => {
      const file = ws.path(`io-${randomBytes(4).toString('hex')}.json`);
      const result = await ws.run(args, { env: { ...env, AIM_IO_STATS: file } });
      expect(result.code, result.stderr).toBe(0);
      return { stats: JSON.parse(await readFile(file, 'utf8')), stderr: result.stderr };
    };
    await ws.json(['push', 'stats/a:v1', ws.path('big')]);
    const prefixes = ['packs/', 'index/', 'keys/', 'locations/', 'manifests/', 'pending/'];

    const unchanged = await io(['push', 'stats/a:v1', ws.path('big')]);
    expect(unchanged.stats.bytesRead['index/']).toBeUndefined();
    for (const prefix of prefixes) expect(unchanged.stats.bytesWritten[prefix], prefix).toBeUndefined();

    await cp(ws.path('big'), ws.path('big-stats'), { recursive: true });
    const across = await io(['push', 'stats/b:v1', ws.path('big-stats')]);
    const [shard] = await readdir(ws.path('repos', 'stats', 'index'));
    expect(across.stats.bytesRead['index/']).toBe((await stat(ws.path('repos', 'stats', 'index', shard!))).size);
    expect(across.stats.bytesWritten['packs/']).toBeUndefined();

    // A version pushed before location maps (its map deleted here): the next version's push reads the whole index
    // (from the store: a new AIM_HOME holds no copy of it).
    await rm(ws.path('repos', 'stats', 'locations'), { recursive: true });
    await writeFile(ws.path('small', 'extra.bin'), randomBytes(1000));
    const legacy = await io(['push', 'stats/a:v2', ws.path('small')], { AIM_HOME: ws.path('stats-home') });
    expect(legacy.stderr).toMatch(/has no location map: reading the whole index \(run `aim repo upgrade stats` to write the maps\)/);
    expect(legacy.stats.bytesRead['index/']).toBeGreaterThan(0);
    await rm(ws.path('small', 'extra.bin'));
  });

  it('racing pushes: two models at once both land; two contents for one new tag: one wins, the other is refused', async () => {
    const versions = await Promise.all(
      ['one', 'two', 'three'].map(async (name) => {
        await mkdir(ws.path('race-src', name), { recursive: true });
        await writeFile(ws.path('race-src', name, 'weights.bin'), randomBytes(20 * MiB));
        return name;
      }),
    );
    const [first, second] = await Promise.all(versions.slice(0, 2).map((name) => ws.json(['push', `race/${name}:v1`, ws.path('race-src', name)])));
    expect([first.tagOutcome, second.tagOutcome]).toEqual(['created', 'created']);

    const racing = await Promise.all(versions.slice(1).map((name) => ws.run(['push', 'race/same:v1', ws.path('race-src', name), '--json'])));
    const won = racing.filter((result) => result.code === 0);
    expect(won).toHaveLength(1);
    expectUserError(racing.find((result) => result.code !== 0)!, /tag v1 of race\/same already names other content/);
    expect(racing.find((result) => result.code !== 0)!.code).toBe(5);
    const winner = versions.slice(1)[racing.indexOf(won[0]!)]!;
    for (const [ref, source] of [['one:v1', 'one'], ['two:v1', 'two'], ['same:v1', winner], ['same:latest', winner]] as const) {
      await ws.json(['pull', `race/${ref}`, `race-out-${ref.replace(':', '-')}`]);
      await expectSameTree(ws.path(`race-out-${ref.replace(':', '-')}`), ws.path('race-src', source));
    }
    expect((await ws.json(['verify', 'race'])).ok).toBe(true);
  });
});
