// Pulls of many small files through the real CLI: the files of one chunk or none are built together, per pack
// (src/core/transfer/pull-small.ts). Each case fails if that path loses a byte, a mode, a file, a resume, or lets a
// damaged chunk through.
import { chmod, copyFile, link, mkdir, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeRandomFile } from '../../../fixtures/generate-model.js';
import { digestOf } from '../../../src/core/format/digest.js';
import { createWorkspace, expectSameTree, expectUserError, killWhen, listFiles, type Workspace } from '../../helpers/cli.js';
import { expectRecordsMatch } from '../../helpers/install-records.js';

const MiB = 1024 * 1024;

/** `count` seeded files of 0 B to 8 KiB under three levels of folders; returns their total size. */
async function writeSmallTree(folder: string, count: number, seed: string): Promise<number> {
  let total = 0;
  for (let i = 0; i < count; i++) {
    const size = i % 50 === 0 ? 0 : 100 + ((i * 7919) % 8092);
    total += size;
    await writeRandomFile(join(folder, `a${i % 3}`, `b${i % 7}`, `f${i}.bin`), size, `${seed}:${i}`);
  }
  return total;
}

/**
 * A `sync` program put ahead of the real one on PATH: when the pull calls it (for `.aim/partial`, or for DEST once the
 * files are renamed), it notes its arguments, how many files DEST holds under final names, how many partials
 * `.aim/partial` holds, how many files the fresh folders of `.aim/fresh` hold and whether `.aim/state.json` exists,
 * then runs the real `sync` (or, `failing`, exits 1 as a `sync` without `--file-system` would).
 */
async function syncWitness(folder: string, failing = false): Promise<{ env: NodeJS.ProcessEnv; calls: () => Promise<string[][]> }> {
  await mkdir(folder, { recursive: true });
  const log = join(folder, 'calls');
  const script = [
    '#!/bin/sh',
    // The pull hands over the folder it holds open as descriptor 3 (lib/held-folder.ts): its path, as the kernel knows it.
    'folder=$2; [ "$2" = /proc/self/fd/3 ] && folder=$(readlink /proc/self/fd/3)',
    'case "$folder" in */.aim/partial) dest=$(dirname "$(dirname "$folder")") ;; *) dest="$folder" ;; esac',
    'finals=$(find "$dest" -path "$dest/.aim" -prune -o -type f -print | wc -l)',
    'partials=$(ls "$dest/.aim/partial" | wc -l)',
    'fresh=$(find "$dest/.aim/fresh" -type f 2>/dev/null | wc -l)',
    'state=$(test -e "$dest/.aim/state.json" && echo state || echo no-state)',
    `echo "$1 $folder $finals $partials $fresh $state" >> '${log}'`,
    failing ? 'exit 1' : `PATH='${process.env.PATH}' exec sync "$@"`,
  ];
  await writeFile(join(folder, 'sync'), `${script.join('\n')}\n`, { mode: 0o755 });
  const calls = async () => (await readFile(log, 'utf8').catch(() => '')).trim().split('\n').filter(Boolean).map((line) => line.split(' '));
  return { env: { PATH: `${folder}:${process.env.PATH}` }, calls };
}

/** How many partials the version's small files make: one per content. */
async function contentsOf(ws: Workspace, ref: string): Promise<number> {
  const inspected = await ws.json(['inspect', ref]);
  return new Set(inspected.manifest.files.map((file: { digest: string }) => file.digest)).size;
}

/**
 * What a pull of the version's small files into a new DEST builds before its sync: in `.aim/partial` one partial per
 * content of the files at DEST's top level, and in `.aim/fresh` every file that lies in a folder (pull-fresh.ts).
 */
async function builtIntoNewDest(ws: Workspace, ref: string): Promise<[number, number]> {
  const files: Array<{ path: string; digest: string }> = (await ws.json(['inspect', ref])).manifest.files;
  const top = files.filter((file) => !file.path.includes('/'));
  return [new Set(top.map((file) => file.digest)).size, files.length - top.length];
}

async function partialsIn(dest: string): Promise<string[]> {
  return (await readdir(join(dest, '.aim', 'partial')).catch(() => [] as string[])).filter((name) => /^[0-9a-f]{64}$/.test(name));
}

/** Files built so far in the fresh folders of `.aim/fresh` (pull-fresh.ts), as paths under it. */
async function freshIn(dest: string): Promise<string[]> {
  return listFiles(join(dest, '.aim', 'fresh'), { includeAim: true }).catch(() => [] as string[]);
}

describe('pull of many small files', () => {
  let ws: Workspace;

  beforeAll(async () => {
    ws = await createWorkspace((dir) => ({ r: { type: 'local', path: `${dir}/repo` } }));
  });
  afterAll(() => ws.cleanup());

  it('pulls them byte for byte with their modes: empty files, copies, nested folders, beside big files', async () => {
    const model = ws.path('mixed');
    await writeSmallTree(model, 400, 'mixed');
    await copyFile(join(model, 'a1', 'b1', 'f1.bin'), join(model, 'copy-of-f1.bin'));
    await copyFile(join(model, 'a1', 'b1', 'f1.bin'), join(model, 'a2', 'another-copy.bin'));
    await writeFile(join(model, 'a0', 'empty-too'), '');
    await chmod(join(model, 'a2', 'b2', 'f2.bin'), 0o755);
    await writeRandomFile(join(model, 'weights.bin'), 9 * MiB, 'mixed:big');
    await writeRandomFile(join(model, 'one-chunk.bin'), 200 * 1024, 'mixed:medium');
    await ws.json(['push', 'r/mixed:v1', model]);

    const pulled = await ws.json(['pull', 'r/mixed:v1', 'mixed-out']);
    expect(pulled.files).toBe(405);
    await expectSameTree(ws.path('mixed-out'), model);
    expect((await stat(ws.path('mixed-out', 'a2', 'b2', 'f2.bin'))).mode & 0o777).toBe(0o755);
    expect((await stat(ws.path('mixed-out', 'a1', 'b1', 'f1.bin'))).mode & 0o777).toBe(0o644);
    expect(await listFiles(ws.path('mixed-out', '.aim', 'partial'), { includeAim: true })).toEqual([]);
    // Enough files for two writer threads, each given half of a read: every file's record is its own stat.
    await expectRecordsMatch(ws.path('mixed-out'));
    // Pulled again: every file is in place, nothing is fetched.
    const again = await ws.json(['pull', 'r/mixed:v1', 'mixed-out']);
    expect(again).toMatchObject({ bytesTransferred: 0, filesUnchanged: 405 });
    await expectRecordsMatch(ws.path('mixed-out'));
    // A file touched since holds the version's bytes still: it stays, read once, and its record follows its new stat.
    await utimes(ws.path('mixed-out', 'a0', 'b3', 'f3.bin'), new Date('2021-01-01'), new Date('2021-01-01'));
    expect(await ws.json(['pull', 'r/mixed:v1', 'mixed-out'])).toMatchObject({ bytesTransferred: 0, filesUnchanged: 405 });
    await expectRecordsMatch(ws.path('mixed-out'));
  });

  it('moves them one by one into folders DEST has, on two threads, each record its own file\'s', async () => {
    const model = ws.path('into-folders');
    await writeSmallTree(model, 300, 'into-folders');
    await ws.json(['push', 'r/into-folders:v1', model]);
    const dest = ws.path('into-folders-out');
    // Every folder of the version made beforehand: no folder is new, so each file is moved in on its own.
    for (const path of await listFiles(model)) await mkdir(join(dest, path, '..'), { recursive: true });
    expect((await ws.json(['pull', 'r/into-folders:v1', dest])).files).toBe(300);
    await expectSameTree(dest, model);
    await expectRecordsMatch(dest);
  });

  it('makes every partial durable in one sync of the file system before any file gets its final name, and the new names in one more', async () => {
    const model = ws.path('synced');
    await writeSmallTree(model, 300, 'synced');
    await copyFile(join(model, 'a1', 'b1', 'f1.bin'), join(model, 'copy-of-f1.bin'));
    await ws.json(['push', 'r/synced:v1', model]);
    const witness = await syncWitness(ws.path('witness-synced'));
    const dest = ws.path('synced-out');

    await ws.json(['pull', 'r/synced:v1', dest], { env: witness.env });
    await expectSameTree(dest, model);
    // One call for the partials' file system, made when every partial was written and no final name yet; one for
    // DEST's once every file has its final name (more than a few folders got new names), before the state says so.
    const [partials, fresh] = await builtIntoNewDest(ws, 'r/synced:v1');
    expect(fresh).toBeGreaterThan(0);
    expect(await witness.calls()).toEqual([
      ['--file-system', join(dest, '.aim', 'partial'), '0', String(partials), String(fresh), 'no-state'],
      ['--file-system', dest, '301', '0', '0', 'no-state'],
    ]);
  });

  it('still pulls every file where `sync --file-system` cannot run (each partial synced on its own)', async () => {
    const model = ws.path('nosyncfs');
    await writeSmallTree(model, 100, 'nosyncfs');
    await ws.json(['push', 'r/nosyncfs:v1', model]);
    const witness = await syncWitness(ws.path('witness-nosyncfs'), true);
    const dest = ws.path('nosyncfs-out');

    await ws.json(['pull', 'r/nosyncfs:v1', dest], { env: witness.env });
    await expectSameTree(dest, model);
    expect(await witness.calls()).toHaveLength(1);
    expect(await listFiles(join(dest, '.aim', 'partial'), { includeAim: true })).toEqual([]);
    expect(await freshIn(dest)).toEqual([]);
  });

  /**
   * Flips one byte of the file at `share` (0 to 1) of the small files' order in their pack, where the pack holds it;
   * returns its digest (a file of one chunk: its chunk's too).
   */
  async function damageInPack(model: string, share: number): Promise<string> {
    const packs: Array<{ path: string; bytes: Buffer }> = [];
    for (const entry of await readdir(ws.path('repo', 'packs'), { recursive: true, withFileTypes: true })) {
      if (entry.isFile()) packs.push({ path: join(entry.parentPath, entry.name), bytes: await readFile(join(entry.parentPath, entry.name)) });
    }
    const placed: Array<{ pack: (typeof packs)[number]; at: number; bytes: Buffer }> = [];
    for (const path of await listFiles(model)) {
      const bytes = await readFile(join(model, ...path.split('/')));
      if (bytes.length < 100) continue;
      for (const pack of packs) {
        const at = pack.bytes.indexOf(bytes);
        if (at >= 0) placed.push({ pack, at, bytes });
      }
    }
    const inOnePack = placed.filter((entry) => entry.pack === placed[0]!.pack).sort((a, b) => a.at - b.at);
    expect(inOnePack.length).toBeGreaterThan(200);
    const victim = inOnePack[Math.floor(share * (inOnePack.length - 1))]!;
    victim.pack.bytes[victim.at + 50] = victim.pack.bytes[victim.at + 50]! ^ 0xff;
    await writeFile(victim.pack.path, victim.pack.bytes);
    return digestOf(victim.bytes);
  }

  // A read of many files is split between two writer threads: a damaged chunk early and late in the read (the first
  // and the second half) must each be the one named, with nothing of the read under a final name.
  for (const [name, share] of [['early', 0.4], ['late', 0.9]] as const) {
    it(`fails on a corrupt chunk ${name} in a pack many small files share, naming it, leaving no final name and only checked partials`, async () => {
      const model = ws.path(`shared-${name}`);
      await writeSmallTree(model, 300, `shared-${name}`);
      await ws.json(['push', `r/shared-${name}:v1`, model]);
      const damaged = await damageInPack(model, share);

      // Checked on the writer's threads (native BLAKE3), and on the main thread where only hash-wasm is at hand.
      for (const [dest, env] of [[`shared-${name}-out`, {}], [`shared-${name}-wasm`, { AIM_HASH: 'wasm' }]] as const) {
        expectUserError(await ws.run(['pull', `r/shared-${name}:v1`, dest], { env }), new RegExp(`chunk ${damaged} in repository r is corrupt`));
        expect(await listFiles(ws.path(dest))).toEqual([]);
        for (const partial of await partialsIn(ws.path(dest))) {
          expect(await digestOf(await readFile(ws.path(dest, '.aim', 'partial', partial))), partial).toBe(`blake3:${partial}`);
        }
        const digests = new Map<string, string>((await ws.json(['inspect', `r/shared-${name}:v1`])).manifest.files.map((file: { path: string; digest: string }) => [file.path, file.digest]));
        for (const path of await freshIn(ws.path(dest))) {
          expect(await digestOf(await readFile(ws.path(dest, '.aim', 'fresh', path))), path).toBe(digests.get(path));
        }
      }
    });
  }

  it('resumes a pull killed (SIGKILL) among its small files, fetching again only what was not written', async () => {
    const model = ws.path('many');
    const total = await writeSmallTree(model, 4000, 'many');
    await ws.json(['push', 'r/many:v1', model]);
    const dest = ws.path('many-out');
    const running = ws.start(['pull', 'r/many:v1', dest, '--json']);
    await killWhen(running, async () => (await freshIn(dest)).length >= 200);

    expect(await listFiles(dest), 'no final-named file after the kill').toEqual([]);
    // A file cut short by the kill, as a power cut could leave one: the resumed pull must not keep it.
    const [cut] = (await freshIn(dest)).filter((path) => path.endsWith('.bin'));
    await writeFile(join(dest, '.aim', 'fresh', cut!), 'not the file');
    // The partials kept were written by a run that never synced them: the resumed pull syncs them with the rest.
    const witness = await syncWitness(ws.path('witness-many'));
    const resumed = await ws.json(['pull', 'r/many:v1', dest], { env: witness.env });
    await expectSameTree(dest, model);
    // The killed pull's fresh folders were taken apart: every file of them that checks out is kept as a partial.
    expect(await witness.calls()).toEqual([
      ['--file-system', join(dest, '.aim', 'partial'), '0', String(await contentsOf(ws, 'r/many:v1')), '0', 'no-state'],
      ['--file-system', dest, '4000', '0', '0', 'no-state'],
    ]);
    expect(resumed.bytesTransferred).toBeGreaterThan(0);
    expect(resumed.bytesTransferred).toBeLessThan(total - 150 * 100); // at least 150 of the 200 files (100 B or more each) were kept
    expect(await listFiles(join(dest, '.aim', 'partial'), { includeAim: true })).toEqual([]);
    expect(await freshIn(dest)).toEqual([]);
  });

  it('never writes through a partial name planted as a hard link to a file outside DEST', async () => {
    const model = ws.path('linked');
    await writeSmallTree(model, 20, 'linked');
    await ws.json(['push', 'r/linked:v1', model]);
    const inspected = await ws.json(['inspect', 'r/linked:v1']);
    const dest = ws.path('linked-out');
    await mkdir(join(dest, '.aim', 'partial'), { recursive: true });
    // Outside files named by two partials: one with the very bytes of its file (it must not be kept, nor its mode
    // changed: DEST would share it), one with other bytes (it must not be overwritten).
    const [first, second] = inspected.manifest.files.filter((file: { size: number }) => file.size > 0);
    const outside = [ws.path('precious-1'), ws.path('precious-2')];
    await copyFile(join(model, ...first.path.split('/')), outside[0]!);
    await writeFile(outside[1]!, 'precious');
    await chmod(outside[0]!, 0o600);
    await link(outside[0]!, join(dest, '.aim', 'partial', first.digest.slice(7)));
    await link(outside[1]!, join(dest, '.aim', 'partial', second.digest.slice(7)));

    await ws.json(['pull', 'r/linked:v1', dest]);
    await expectSameTree(dest, model);
    expect((await stat(outside[0]!)).mode & 0o777).toBe(0o600);
    expect((await stat(outside[0]!)).nlink).toBe(1);
    expect(await readFile(outside[1]!, 'utf8')).toBe('precious');
  });

  it('updates a tree of small files fetching only the files that changed', async () => {
    const model = ws.path('tree');
    await writeSmallTree(model, 200, 'tree');
    await ws.json(['push', 'r/tree:v1', model]);
    const dest = ws.path('tree-out');
    await ws.json(['pull', 'r/tree:v1', dest]);
    // v2: three files rewritten, one added, one removed.
    const changed = [join('a1', 'b1', 'f1.bin'), join('a2', 'b5', 'f5.bin'), join('a0', 'b0', 'f21.bin')];
    for (const path of changed) await writeRandomFile(join(model, path), 3000, `tree2:${path}`);
    await writeRandomFile(join(model, 'new.bin'), 500, 'tree2:new');
    await rm(join(model, 'a2', 'b2', 'f2.bin'));
    await ws.json(['push', 'r/tree:v2', model]);

    const update = await ws.json(['pull', 'r/tree:v2', dest]);
    expect(update.bytesTransferred).toBe(3 * 3000 + 500);
    expect(update.filesUnchanged).toBe(196);
    await expectSameTree(dest, model);
  });

  it('pulls files of one chunk larger than a pack read (a repository cut with chunks of 16 MiB and more)', async () => {
    // Such a chunk does not fit a slot of the small-file writer: it is checked and written on the main thread, from
    // a pack, from a repository of loose chunks, and from the installed older version alike.
    const chunking = { minSize: 16 * MiB, avgSize: 16 * MiB, maxSize: 32 * MiB, seed: 1 };
    for (const [repo, format] of [['wide', 2], ['wide-loose', 1]] as const) {
      await mkdir(ws.path(repo), { recursive: true });
      await writeFile(ws.path(repo, 'aim-repo.json'), JSON.stringify({ format, hash: 'blake3', chunking, createdAt: new Date().toISOString() }));
    }
    const wide = await createWorkspace((dir) => ({ w: { type: 'local', path: ws.path('wide') }, l: { type: 'local', path: ws.path('wide-loose') } }));
    try {
      const model = ws.path('wide-model');
      await writeRandomFile(join(model, 'weights.bin'), 12 * MiB, 'wide');
      await writeRandomFile(join(model, 'config.json'), 700, 'wide-config');
      for (const repo of ['w', 'l']) {
        expect((await wide.json(['push', `${repo}/big-chunk:v1`, model])).chunks).toBe(2);
        const dest = ws.path(`wide-out-${repo}`);
        await wide.json(['pull', `${repo}/big-chunk:v1`, dest]);
        await expectSameTree(dest, model);
      }
      // v2 moves the weights: the pull builds them from the copy v1 installed, not from the repository.
      await mkdir(join(model, 'moved'));
      await copyFile(join(model, 'weights.bin'), join(model, 'moved', 'weights.bin'));
      await rm(join(model, 'weights.bin'));
      await wide.json(['push', 'w/big-chunk:v2', model]);
      const update = await wide.json(['pull', 'w/big-chunk:v2', ws.path('wide-out-w')]);
      expect(update.bytesTransferred).toBe(0);
      await expectSameTree(ws.path('wide-out-w'), model);
    } finally {
      await wide.cleanup();
    }
  });
});
