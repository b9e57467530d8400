// A version's location map as an attacker (or a damaged disk) leaves it, through the real CLI under the harness's
// time and memory bound. A map that does not read, names another version, or names chunks the version lacks is
// never trusted: pull and verify fall back to the whole index, say so in one line naming the file, and produce the
// right bytes. A map of the right shape pointing at the wrong bytes is caught by the chunk hash: the pull fails with
// one plain line and leaves nothing under a final name. Nothing outside DEST (and AIM_HOME) ever changes.
import { cp, mkdir, readdir, readFile, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateModel } from '../../fixtures/generate-model.js';
import { createWorkspace, expectSameTree, expectUserError, type Workspace } from '../helpers/cli.js';
import { mkfifo } from './filesystem-case.js';
import { expectUnchanged, runBounded, snapshot } from './harness.js';

const KiB = 1024;
const SECRET = 'TOP-SECRET-locations-7d1e';
type Entry = [string, number, number];

interface MapBody {
  format: number;
  manifest: string;
  packs: Record<string, Entry[]>;
}

interface Ctx {
  ws: Workspace;
  /** The victim's map file, and its pristine contents. */
  mapFile: string;
  map: MapBody;
  /** The other model's map file. */
  goodMap: string;
  /** The victim's chunks as its manifest lists them. */
  chunks: Array<{ digest: string; size: number }>;
}

interface HostileMap {
  name: string;
  plant(ctx: Ctx): Promise<void>;
  /** undefined: the commands fall back to the index and succeed; else the one error line the pull must print. */
  refused?: RegExp;
  /** What `aim repo upgrade` must refuse with, when it cannot replace what was planted. */
  upgradeRefused?: RegExp;
}

const write = (body: unknown) => async (ctx: Ctx) => writeFile(ctx.mapFile, typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body));
const edit = (change: (map: MapBody, ctx: Ctx) => unknown) => async (ctx: Ctx) => writeFile(ctx.mapFile, JSON.stringify(change(structuredClone(ctx.map), ctx)));
const replaced = (make: (path: string, ctx: Ctx) => Promise<unknown>) => async (ctx: Ctx) => {
  await rm(ctx.mapFile);
  await make(ctx.mapFile, ctx);
};
const firstEntry = (map: MapBody): Entry => Object.values(map.packs)[0]![0]!;

const CASES: HostileMap[] = [
  { name: 'not JSON, with terminal escapes', plant: write(Buffer.from([0x1b, 0x5b, 0x32, 0x4a, 0xff, 0x00])) },
  { name: 'empty', plant: write('') },
  { name: 'a newer format', plant: edit((map) => ({ ...map, format: 2 })) },
  { name: 'a list', plant: write([]) },
  { name: 'naming another version', plant: edit((map) => ({ ...map, manifest: `blake3:${'ab'.repeat(32)}` })) },
  { name: 'naming a chunk the version lacks', plant: edit((map) => (firstEntry(map)[0] = `blake3:${'cd'.repeat(32)}`, map)) },
  { name: 'giving a chunk another size', plant: edit((map) => (firstEntry(map)[2] += 1, map)) },
  { name: 'leaving a chunk out', plant: edit((map) => (Object.values(map.packs)[0]!.shift(), map)) },
  { name: 'an entry past the end any pack can have', plant: edit((map) => (firstEntry(map)[1] = 2 ** 40, map)) },
  { name: 'a pack id that is a path', plant: edit((map) => ({ ...map, packs: { '../../secret/passwd': Object.values(map.packs).flat() } })) },
  { name: 'a digest that is a path', plant: edit((map) => (firstEntry(map)[0] = 'blake3:/../../secret/passwd', map)) },
  { name: 'grown to 1.5 GiB (sparse)', plant: async (ctx) => truncate(ctx.mapFile, 1.5 * 1024 * 1024 * 1024) },
  { name: 'a symlink to the secret beside the repository', plant: replaced((path, ctx) => symlink(ctx.ws.path('secret', 'passwd'), path)) },
  { name: "a symlink to the other version's map", plant: replaced((path, ctx) => symlink(ctx.goodMap, path)) },
  { name: 'a FIFO', plant: replaced((path) => mkfifo(path)) },
  // A folder cannot be replaced by a rename: the upgrade stops with one line (exit 6), leaving it for a person.
  { name: 'a folder', plant: replaced((path) => mkdir(path)), upgradeRefused: /is a folder where a file should be/ },
  // The right shape, the wrong place: each is read, and the chunk hash refuses the bytes.
  {
    name: 'a chunk pointed one byte off (valid shape, wrong bytes)',
    plant: edit((map) => {
      const entry = firstEntry(map);
      entry[1] += entry[1] > 0 ? -1 : 1;
      return map;
    }),
    refused: /^aim: error: chunk blake3:[0-9a-f]{64} .*corrupt/,
  },
  {
    name: 'a pack that is not there (valid shape)',
    plant: edit((map) => ({ ...map, packs: { ['0'.repeat(32)]: Object.values(map.packs).flat() } })),
    refused: /^aim: error: chunk blake3:[0-9a-f]{64} is missing from repository r/,
  },
];

describe('hostile location maps', () => {
  let pristine: { ws: Workspace; victim: string; good: string; chunks: Ctx['chunks'] };
  const mapOf = (root: string, digest: string) => join(root, 'locations', digest.slice(7, 9), `${digest.slice(7)}.json`);

  beforeAll(async () => {
    const ws = await createWorkspace((dir) => ({ r: { type: 'local', path: `${dir}/repo` } }));
    await generateModel(ws.path('src-victim'), { seed: 'victim-map', files: [{ path: 'w.bin', size: 700 * KiB }, { path: 'sub/c.json', size: 300 }] });
    await generateModel(ws.path('src-good'), { seed: 'good-map', files: [{ path: 'g.bin', size: 200 * KiB }] });
    const victim = (await ws.json(['push', 'r/victim:v1', 'src-victim'])).digest as string;
    const good = (await ws.json(['push', 'r/good:v1', 'src-good'])).digest as string;
    await ws.json(['repo', 'upgrade', 'r']);
    const manifest = JSON.parse(await readFile(join(ws.path('repo'), 'manifests', 'blake3', victim.slice(7, 9), victim.slice(7)), 'utf8'));
    pristine = { ws, victim, good, chunks: manifest.files.flatMap((file: { chunks: Ctx['chunks'] }) => file.chunks) };
  });
  afterAll(() => pristine?.ws.cleanup());

  it('has at least 15 cases', () => expect(CASES.length).toBeGreaterThanOrEqual(15));

  it.each(CASES.map((hostile) => [hostile.name, hostile] as const))('%s', async (_name, hostile) => {
    const ws = await createWorkspace((dir) => ({ r: { type: 'local', path: `${dir}/repo` } }));
    try {
      await cp(pristine.ws.path('repo'), ws.path('repo'), { recursive: true });
      await cp(pristine.ws.path('src-victim'), ws.path('src-victim'), { recursive: true });
      await mkdir(ws.path('secret'));
      await writeFile(ws.path('secret', 'passwd'), `${SECRET}\n`);
      const mapFile = mapOf(ws.path('repo'), pristine.victim);
      const ctx: Ctx = { ws, mapFile, map: JSON.parse(await readFile(mapFile, 'utf8')), goodMap: mapOf(ws.path('repo'), pristine.good), chunks: pristine.chunks };
      await hostile.plant(ctx);
      const before = await snapshot(ws.dir, ['dest', 'aim-home']);
      const derived = ['dest', 'aim-home', 'repo/locations', 'repo/keys'];
      const beforeUpgrade = await snapshot(ws.dir, derived);

      const pull = await runBounded(ws, ['pull', 'r/victim:v1', 'dest']);
      expect(pull.stdout + pull.stderr).not.toContain(SECRET);
      if (hostile.refused) {
        expectUserError(pull, hostile.refused);
        // Nothing under a final name: only DEST's own bookkeeping.
        expect((await readdir(ws.path('dest')).catch(() => [] as string[])).filter((name) => name !== '.aim')).toEqual([]);
      } else {
        expect(pull.code, pull.stderr).toBe(0);
        await expectSameTree(ws.path('dest'), ws.path('src-victim'));
        const notes = pull.stderr.split('\n').filter((line) => line.includes('location map'));
        expect(notes, pull.stderr).toHaveLength(1);
        expect(notes[0]).toMatch(new RegExp(`locations/${pristine.victim.slice(7, 9)}/${pristine.victim.slice(7)}\\.json.*reading the whole index instead$`));
        const verify = await runBounded(ws, ['verify', 'r', 'victim', '--json']);
        expect(verify.code, verify.stderr).toBe(0);
        expect(verify.json().ok).toBe(true);
      }
      await expectUnchanged(ws.dir, before, ['dest', 'aim-home']);
      if (hostile.refused) return;
      // The upgrade writes the map again (replacing what was planted, never writing through it); pulls then use it.
      const upgrade = await runBounded(ws, ['repo', 'upgrade', 'r', '--json']);
      if (hostile.upgradeRefused) return void expectUserError(upgrade, hostile.upgradeRefused);
      expect(upgrade.code, upgrade.stderr).toBe(0);
      expect(upgrade.json()).toMatchObject({ versionsMapped: 1, alreadyMapped: 1, failed: [] });
      await expectUnchanged(ws.dir, beforeUpgrade, derived);
      expect(await readFile(ctx.goodMap, 'utf8')).toBe(await readFile(mapOf(pristine.ws.path('repo'), pristine.good), 'utf8'));
      const again = await runBounded(ws, ['pull', 'r/victim:v1', 'dest-again']);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stderr).not.toMatch(/location map|index/);
      await expectSameTree(ws.path('dest-again'), ws.path('src-victim'));
    } finally {
      await ws.cleanup();
    }
  });
});
