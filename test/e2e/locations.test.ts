// Location maps through the built CLI: a pull or verify of a mapped version reads its map and no index file; a
// version without one (pushed by an older aim, or its map lost) reads the whole index, saying so in one line; a
// repair deletes the maps naming the chunks it drops; `aim repo upgrade` maps the versions of an older repository,
// resumes after kill -9, and writes nothing the second time.
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { generateModel } from '../../fixtures/generate-model.js';
import { writeTinyGgufInto } from '../../fixtures/tiny-gguf.js';
import { LocalBackend } from '../../src/backends/local.js';
import type { Digest } from '../../src/core/format/digest.js';
import { Repository } from '../../src/core/store/repository.js';
import { snapshot } from '../hostile/harness.js';
import { createWorkspace, expectSameTree, expectUserError, killWhen, type Workspace } from '../helpers/cli.js';

const KiB = 1024;
const NO_KAMIWAZA = { KAMIWAZA_BASE_URL: '', KAMIWAZA_BASE_URI: '', KAMIWAZA_API_URL: '' };
const workspaces: Workspace[] = [];
afterEach(async () => Promise.all(workspaces.splice(0).map((ws) => ws.cleanup())));

type Entry = [string, number, number];

async function workspace(): Promise<Workspace> {
  const ws = await createWorkspace((dir) => ({ r: { type: 'local', path: `${dir}/repo`, packs: true } }));
  workspaces.push(ws);
  return ws;
}

/** Pushes a model of `size` bytes (and a small config) as `r/<model>:v1`; returns its manifest digest. */
async function pushModel(ws: Workspace, model: string, size = 600 * KiB): Promise<string> {
  await generateModel(ws.path(`src-${model}`), { seed: model, files: [{ path: 'w.bin', size }, { path: 'cfg/c.json', size: 300 }] });
  return (await ws.json(['push', `r/${model}:v1`, `src-${model}`])).digest;
}

const mapPath = (ws: Workspace, digest: string): string => ws.path('repo', 'locations', digest.slice(7, 9), `${digest.slice(7)}.json`);

/** The repository as an aim without location maps and key objects leaves it. */
async function asOlderAim(ws: Workspace): Promise<void> {
  await rm(ws.path('repo', 'locations'), { recursive: true, force: true });
  await rm(ws.path('repo', 'keys'), { recursive: true, force: true });
}

/** Every index file turned to garbage, and AIM_HOME's copies of them gone: reading any would fail. */
async function spoilIndex(ws: Workspace): Promise<void> {
  for (const name of await readdir(ws.path('repo', 'index'))) await writeFile(ws.path('repo', 'index', name), 'not an index file');
  await rm(ws.home, { recursive: true, force: true });
}

async function mapFiles(ws: Workspace): Promise<string[]> {
  const folders = await readdir(ws.path('repo', 'locations')).catch(() => [] as string[]);
  const names = await Promise.all(folders.map((folder) => readdir(ws.path('repo', 'locations', folder)).catch(() => [] as string[])));
  return names.flat().filter((name) => /^[0-9a-f]{64}\.json$/.test(name));
}

describe('location maps', () => {
  it('a mapped version pulls and verifies with every index file garbage; one without a map reads the index', async () => {
    const ws = await workspace();
    const mapped = await pushModel(ws, 'mapped');
    const legacy = await pushModel(ws, 'legacy');
    await asOlderAim(ws);
    await ws.json(['repo', 'upgrade', 'r']);
    await rm(mapPath(ws, legacy));
    await spoilIndex(ws);

    const pull = await ws.run(['pull', 'r/mapped:v1', 'out']);
    expect(pull.code, pull.stderr).toBe(0);
    expect(pull.stderr).not.toMatch(/index/);
    await expectSameTree(ws.path('out'), ws.path('src-mapped'));
    expect((await ws.json(['verify', 'r', 'mapped'])).ok).toBe(true);
    expect(mapped).not.toBe(legacy);

    const refused = await ws.run(['pull', 'r/legacy:v1', 'out-legacy']);
    expectUserError(refused, /corrupt index file at index\/[0-9a-f]{32}\.json/);
    expect(refused.stderr.split('\n').filter((line) => line.includes('has no location map'))).toHaveLength(1);
  });

  it('a version without a map, or with a damaged one, pulls through the whole index with one note on stderr, none on --json stdout', async () => {
    const ws = await workspace();
    const digest = await pushModel(ws, 'm');
    await asOlderAim(ws);

    const legacy = await ws.run(['pull', 'r/m:v1', 'out1']);
    expect(legacy.code, legacy.stderr).toBe(0);
    const notes = legacy.stderr.split('\n').filter((line) => /location map/.test(line));
    expect(notes).toEqual([`version ${digest} has no location map: reading the whole index (\`aim repo upgrade r\` writes one)`]);
    await expectSameTree(ws.path('out1'), ws.path('src-m'));

    await ws.json(['repo', 'upgrade', 'r']);
    await writeFile(mapPath(ws, digest), '{"format": 1, "manifest": "');
    const damaged = await ws.run(['pull', 'r/m:v1', 'out2']);
    expect(damaged.code, damaged.stderr).toBe(0);
    const lines = damaged.stderr.split('\n').filter((line) => /location map/.test(line));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^corrupt location map at locations\/[0-9a-f]{2}\/[0-9a-f]{64}\.json in .*: not valid JSON.*; reading the whole index instead$/);
    await expectSameTree(ws.path('out2'), ws.path('src-m'));

    const json = await ws.run(['pull', 'r/m:v1', 'out3', '--json']);
    expect(json.code, json.stderr).toBe(0);
    expect(json.json().digest).toBe(digest);
    expect(json.stdout).not.toMatch(/location map/);
  });

  it('verify --repair deletes the maps naming a chunk it drops; pushing the good copy again makes the version pull', async () => {
    const ws = await workspace();
    const digest = await pushModel(ws, 'm');
    const other = await pushModel(ws, 'other');
    await ws.json(['repo', 'upgrade', 'r']);
    const map = JSON.parse(await readFile(mapPath(ws, digest), 'utf8')) as { packs: Record<string, Entry[]> };
    const [pack, entries] = Object.entries(map.packs)[0]!;
    const packFile = ws.path('repo', 'packs', pack.slice(0, 2), pack);
    const bytes = await readFile(packFile);
    bytes[entries[0]![1]] ^= 0xff;
    await writeFile(packFile, bytes);

    expect((await ws.run(['verify', 'r'])).code).toBe(4);
    expect((await ws.run(['verify', 'r', 'm', '--repair'])).code).toBe(4);
    await expect(readFile(mapPath(ws, digest))).rejects.toThrow(/ENOENT/);
    expect(await mapFiles(ws)).toEqual([`${other.slice(7)}.json`]);

    await ws.json(['push', 'r/m:v1', 'src-m']);
    await ws.json(['pull', 'r/m:v1', 'out']);
    await expectSameTree(ws.path('out'), ws.path('src-m'));
    expect((await ws.json(['verify', 'r'])).ok).toBe(true);
  });

  it('verify --repair keeps a good chunk a map pointed at the wrong bytes, deleting the map instead', async () => {
    const ws = await workspace();
    const digest = await pushModel(ws, 'm');
    await ws.json(['repo', 'upgrade', 'r']);
    const map = JSON.parse(await readFile(mapPath(ws, digest), 'utf8')) as { packs: Record<string, Entry[]> };
    const entry = Object.values(map.packs)[0]![0]!;
    entry[1] += entry[1] > 0 ? -1 : 1;
    await writeFile(mapPath(ws, digest), JSON.stringify(map));

    const found = await ws.run(['verify', 'r', '--repair', '--json']);
    expect(found.code).toBe(4);
    expect(found.json().problems.map((problem: { digest: string }) => problem.digest)).toEqual([entry[0]]);
    await expect(readFile(mapPath(ws, digest))).rejects.toThrow(/ENOENT/);
    await ws.json(['pull', 'r/m:v1', 'out']);
    await expectSameTree(ws.path('out'), ws.path('src-m'));
    expect((await ws.json(['verify', 'r'])).ok).toBe(true);
  });

  it("aim run's pull of a mapped version reads no index file", async () => {
    const ws = await createWorkspace((dir) => ({ r: { type: 'local', path: `${dir}/repo`, packs: true } }), NO_KAMIWAZA);
    workspaces.push(ws);
    await writeTinyGgufInto(ws.path('src'), { quant: 'q8_0', seed: 7 });
    await ws.json(['push', 'r/tiny:v1', 'src']);
    await asOlderAim(ws);
    await ws.json(['repo', 'upgrade', 'r']);
    await spoilIndex(ws);
    try {
      const run = await ws.run(['run', 'r/tiny:v1', '--threads', '1', '--ctx-size', '1024', '--json']);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).not.toMatch(/index/);
      const record = run.json();
      expect(record.modelId).toBe('r/tiny:v1');
      expect(await readFile(record.modelPath)).toEqual(await readFile(ws.path('src', 'tiny-llama-q8_0.gguf')));
    } finally {
      await ws.run(['stop', '--all']);
    }
  });
});

describe('aim repo upgrade', () => {
  it('maps every version and writes the key objects of an older repository; pulls then read no index file; a second run writes nothing', async () => {
    const ws = await workspace();
    const digests = [await pushModel(ws, 'a'), await pushModel(ws, 'b', 2 * 1024 * KiB)];
    await asOlderAim(ws);
    const keyChunks = new Set<string>();
    for (const name of await readdir(ws.path('repo', 'index'))) {
      const index = JSON.parse(await readFile(ws.path('repo', 'index', name), 'utf8')) as { packs: Record<string, Entry[]> };
      for (const entries of Object.values(index.packs)) for (const [chunk] of entries) if (chunk.startsWith('blake3:00')) keyChunks.add(chunk);
    }

    const first = await ws.json(['repo', 'upgrade', 'r']);
    expect(first).toEqual({ repo: 'r', versionsMapped: 2, alreadyMapped: 0, failed: [], keysWritten: keyChunks.size, problems: [] });
    expect((await mapFiles(ws)).sort()).toEqual(digests.map((digest) => `${digest.slice(7)}.json`).sort());
    const upgraded = await snapshot(ws.path('repo'));
    const second = await ws.run(['repo', 'upgrade', 'r', '--json']);
    expect(second.json()).toEqual({ ...first, versionsMapped: 0, alreadyMapped: 2, keysWritten: 0 });
    expect(Object.fromEntries(await snapshot(ws.path('repo')))).toEqual(Object.fromEntries(upgraded));

    await spoilIndex(ws);
    for (const model of ['a', 'b']) {
      const pull = await ws.run(['pull', `r/${model}:v1`, `out-${model}`]);
      expect(pull.code, pull.stderr).toBe(0);
      await expectSameTree(ws.path(`out-${model}`), ws.path(`src-${model}`));
    }
  });

  it('reports a version whose chunks no index file names, maps the others, and exits 4', async () => {
    const ws = await workspace();
    await pushModel(ws, 'good');
    await ws.json(['push', 'r/good:v2', 'src-good']);
    const broken = await pushModel(ws, 'broken');
    await asOlderAim(ws);
    const manifest = JSON.parse(await readFile(ws.path('repo', 'manifests', 'blake3', broken.slice(7, 9), broken.slice(7)), 'utf8'));
    const lost = manifest.files.find((file: { path: string }) => file.path === 'w.bin').chunks[0].digest;
    for (const name of await readdir(ws.path('repo', 'index'))) {
      const file = ws.path('repo', 'index', name);
      const index = JSON.parse(await readFile(file, 'utf8')) as { packs: Record<string, Entry[]> };
      for (const pack of Object.keys(index.packs)) index.packs[pack] = index.packs[pack]!.filter(([chunk]) => chunk !== lost);
      await writeFile(file, JSON.stringify(index));
    }

    const result = await ws.run(['repo', 'upgrade', 'r', '--json']);
    expectUserError(result, /1 version of r could not be mapped/);
    const summary = result.json();
    expect(summary.versionsMapped).toBe(1);
    expect(summary.failed).toEqual([{ digest: broken, usedBy: ['broken:latest', 'broken:v1'], message: expect.stringMatching(/^1 of its chunks are in no index file/) }]);
    expect(await mapFiles(ws)).toHaveLength(1);
  });

  it('stops with one line naming an index file that does not read, writing no map', async () => {
    const ws = await workspace();
    await pushModel(ws, 'm');
    await asOlderAim(ws);
    const [name] = await readdir(ws.path('repo', 'index'));
    await writeFile(ws.path('repo', 'index', name!), '{"format": 1, "packs": {"../x": []}}');
    expectUserError(await ws.run(['repo', 'upgrade', 'r']), new RegExp(`corrupt index file at index/${name!.replace('.', '\\.')} in .*: packs: "\\.\\./x" is not a pack id`));
    expect(await mapFiles(ws)).toEqual([]);
  });

  it('killed halfway (kill -9), a second run maps the rest', async () => {
    const ws = await workspace();
    const digest = await pushModel(ws, 'm', 100 * KiB);
    await asOlderAim(ws);
    // Many versions of the same chunks (only an annotation differs), so that the kill lands while maps are written.
    const repo = new Repository('r', new LocalBackend(ws.path('repo')));
    const manifest = await repo.getManifest(digest as Digest);
    const versions = 300;
    for (let i = 1; i < versions; i++) {
      const { digest: variant } = await repo.putManifest({ ...manifest, annotations: { ...manifest.annotations, variant: String(i) } });
      await repo.putTag('m', `t${i}`, { digest: variant, pushedAt: new Date().toISOString(), size: 100 * KiB + 300, files: 2 });
    }

    await killWhen(ws.start(['repo', 'upgrade', 'r', '--concurrency', '1']), async () => (await mapFiles(ws)).length >= 3);
    const mappedBefore = (await mapFiles(ws)).length;
    expect(mappedBefore).toBeLessThan(versions);

    const rerun = await ws.json(['repo', 'upgrade', 'r']);
    expect(rerun.alreadyMapped).toBe(mappedBefore);
    expect(rerun.versionsMapped).toBe(versions - mappedBefore);
    expect(rerun.failed).toEqual([]);
    expect(await mapFiles(ws)).toHaveLength(versions);
    await spoilIndex(ws);
    await ws.json(['pull', 'r/m:t150', 'out']);
    await expectSameTree(ws.path('out'), ws.path('src-m'));
  });
});
