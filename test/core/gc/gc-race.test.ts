// A gc that writes its record after a push's last check before the tag (so the push's map names packs the gc is
// removing) is caught by the push's check after its tag: the push takes its map back, runs again avoiding the
// condemned packs, and its version ends up mapped into packs no gc record names.
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalBackend } from '../../../src/backends/local.js';
import { condemnedPacks, readGcRecords, writeGcRecord } from '../../../src/core/gc/gc-records.js';
import { silentProgress } from '../../../src/core/progress.js';
import { readLocationMap } from '../../../src/core/store/locations.js';
import { Repository } from '../../../src/core/store/repository.js';
import { pull } from '../../../src/core/transfer/pull.js';
import { push } from '../../../src/core/transfer/push.js';
import { writeRandomFile } from '../../../fixtures/generate-model.js';

const root = await mkdtemp(join(tmpdir(), 'aim-gc-race-'));
process.env.AIM_HOME = join(root, 'home');
afterAll(() => rm(root, { recursive: true, force: true }));

/** A folder where, as the first tag is written, a gc records every pack there as about to go. */
class GcStartsAtTheTag extends LocalBackend {
  condemned?: Set<string>;
  override async putIfAbsent(key: string, data: Uint8Array): Promise<boolean> {
    if (key.startsWith('models/') && !this.condemned) await this.condemnAll();
    return super.putIfAbsent(key, data);
  }
  override async put(key: string, data: Uint8Array): Promise<void> {
    if (key.startsWith('models/') && !this.condemned) await this.condemnAll();
    return super.put(key, data);
  }
  private async condemnAll(): Promise<void> {
    this.condemned = new Set();
    for await (const { key } of this.list('packs/')) this.condemned.add(key.split('/')[2]!);
    await writeGcRecord(this, this.condemned);
  }
}

describe('a push whose tag comes after a gc record', () => {
  it('notices after its tag, runs again and maps its version into packs no record names', async () => {
    const folder = join(root, 'repo');
    await mkdir(folder);
    await writeRandomFile(join(root, 'src', 'w.bin'), 3 * 1024 * 1024, 'gc-race');
    const backend = new GcStartsAtTheTag(folder);
    const repo = new Repository('r', backend, 8, true);
    const notes: string[] = [];
    const pushed = await push(repo, join(root, 'src'), { model: 'm', tag: 'v1', progress: { ...silentProgress, note: (m) => void notes.push(m) } });
    expect(backend.condemned?.size).toBeGreaterThan(0);
    expect(notes.some((note) => /chunks were removed from .* was written: pushing again/.test(note))).toBe(true);
    expect(pushed.bytesTransferred).toBe(3 * 1024 * 1024); // the rerun stored every chunk again, outside the condemned packs
    const condemned = condemnedPacks(await readGcRecords(backend));
    const map = await readLocationMap(backend, pushed.digest, await repo.getManifest(pushed.digest));
    expect(map).toBeDefined();
    const manifest = await repo.getManifest(pushed.digest);
    for (const file of manifest.files) for (const chunk of file.chunks) expect(condemned.has(map!.lookup(chunk.digest)!.pack)).toBe(false);
    await pull(repo, { model: 'm', tag: 'v1' }, join(root, 'dest'));
    expect((await readFile(join(root, 'dest', 'w.bin'))).equals(await readFile(join(root, 'src', 'w.bin')))).toBe(true);
  });
});

/** A folder where, as the first tag is written, a gc that judged the new version unreached deletes its manifest. */
class GcTakesTheManifest extends LocalBackend {
  took?: string;
  override async putIfAbsent(key: string, data: Uint8Array): Promise<boolean> {
    if (key.startsWith('models/') && !this.took) await this.takeManifest();
    return super.putIfAbsent(key, data);
  }
  override async put(key: string, data: Uint8Array): Promise<void> {
    if (key.startsWith('models/') && !this.took) await this.takeManifest();
    return super.put(key, data);
  }
  private async takeManifest(): Promise<void> {
    for await (const { key } of this.list('manifests/')) this.took = key;
    await writeGcRecord(this, []);
    await this.delete(this.took!);
  }
}

describe('a push whose manifest a gc deleted before its tag was written (grace 0)', () => {
  it('notices after its tag, writes the manifest again, and the version pulls', async () => {
    const folder = join(root, 'repo-manifest');
    await mkdir(folder);
    await writeRandomFile(join(root, 'src-manifest', 'w.bin'), 1024 * 1024, 'gc-manifest');
    const backend = new GcTakesTheManifest(folder);
    const repo = new Repository('r', backend, 8, true);
    const notes: string[] = [];
    const pushed = await push(repo, join(root, 'src-manifest'), { model: 'm', tag: 'v1', progress: { ...silentProgress, note: (m) => void notes.push(m) } });
    expect(backend.took).toBeDefined();
    expect(notes.some((note) => /chunks were removed from .* was written: pushing again/.test(note))).toBe(true);
    expect(await repo.hasManifest(pushed.digest)).toBe(true);
    await pull(repo, { model: 'm', tag: 'v1' }, join(root, 'dest-manifest'));
    expect((await readFile(join(root, 'dest-manifest', 'w.bin'))).equals(await readFile(join(root, 'src-manifest', 'w.bin')))).toBe(true);
  });
});
