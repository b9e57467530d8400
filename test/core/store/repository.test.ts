import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalBackend } from '../../../src/backends/local.js';
import { DEFAULT_CHUNKING } from '../../../src/core/chunking/chunker.js';
import { ConfigError, IntegrityError } from '../../../src/lib/errors.js';
import { Repository } from '../../../src/core/store/repository.js';

const folders: string[] = [];
afterEach(async () => Promise.all(folders.splice(0).map((f) => rm(f, { recursive: true, force: true }))));

async function repository(): Promise<{ root: string; repo: Repository }> {
  const root = await mkdtemp(join(tmpdir(), 'aim-repository-'));
  folders.push(root);
  return { root, repo: new Repository('r', new LocalBackend(root)) };
}

describe('aim-repo.json', () => {
  it('records the default chunking, head included, on the first push', async () => {
    const { root, repo } = await repository();
    await repo.ensureMetadata();
    const written = JSON.parse(await readFile(join(root, 'aim-repo.json'), 'utf8'));
    expect(written.chunking).toEqual(DEFAULT_CHUNKING);
    expect(written.chunking.head.size).toBe(8 * 1024 * 1024);
  });

  it('reads a repository from before the head (no head entry) as it was', async () => {
    const { root, repo } = await repository();
    const { head: _head, ...before } = DEFAULT_CHUNKING;
    await writeFile(join(root, 'aim-repo.json'), JSON.stringify({ format: 1, hash: 'blake3', chunking: before, createdAt: '2026-11-21T00:00:00Z' }));
    expect((await repo.metadata())!.chunking).toEqual(before);
  });

  it('refuses chunking settings or a format this aim does not know, asking for an upgrade', async () => {
    const { root, repo } = await repository();
    const write = (metadata: object) => writeFile(join(root, 'aim-repo.json'), JSON.stringify({ hash: 'blake3', createdAt: '2030-01-01T00:00:00Z', ...metadata }));
    await write({ format: 1, chunking: { ...DEFAULT_CHUNKING, tail: { size: 1 } } });
    await expect(repo.metadata()).rejects.toThrow(/uses chunking settings this aim does not know: tail$/);
    await write({ format: 1, chunking: { ...DEFAULT_CHUNKING, head: { ...DEFAULT_CHUNKING.head, mask: 3 } } });
    await expect(repo.metadata()).rejects.toThrow(/does not know: head\.mask$/);
    await write({ format: 2, chunking: { ...DEFAULT_CHUNKING, masks: 'bottom', normalization: 7 } });
    await expect(repo.metadata()).rejects.toThrow(/does not know: masks: "bottom", normalization: 7$/);
    await write({ format: 3, chunking: DEFAULT_CHUNKING });
    const error = await repo.metadata().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toMatch(/has format 3; this aim reads 1 and 2$/);
    expect((error as ConfigError).hint).toBe('upgrade aim');
  });
});

describe('aim-repo.json held to the chunker\'s sane ranges', () => {
  it.each([
    ['minSize 1 (a push of 3.7 GB ran 11 minutes)', { minSize: 1 }, /chunking\.minSize: 1 is less than 1024/],
    ['avgSize above maxSize', { avgSize: 4 * 1024 * 1024 }, /chunk sizes must rise: minSize <= avgSize <= maxSize/],
    ['maxSize of 1 TiB', { maxSize: 2 ** 40 }, /chunking\.maxSize: 1099511627776 is more than 67108864/],
    ['a size of the wrong type', { avgSize: '512k' }, /chunking\.avgSize: expected number, got "512k"/],
    ['a head chunk larger than the body\'s', { head: { ...DEFAULT_CHUNKING.head!, maxSize: 4 * 1024 * 1024 } }, /head\.maxSize must not exceed maxSize|head: chunk sizes must rise/],
    ['a seed that is not a 32-bit word', { seed: -1 }, /chunking\.seed: -1 is negative/],
  ])('refuses %s as corrupt, naming the file', async (_what, change, why) => {
    const { root, repo } = await repository();
    await writeFile(join(root, 'aim-repo.json'), JSON.stringify({ format: 2, hash: 'blake3', chunking: { ...DEFAULT_CHUNKING, ...change }, createdAt: '2026-12-01T00:00:00Z' }));
    const error = await repo.metadata().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IntegrityError);
    expect((error as Error).message).toMatch(new RegExp(`^corrupt repository settings at aim-repo\\.json in ${root}: .*${why.source}`));
  });

  it('refuses an empty or garbage file, and one that is not an object', async () => {
    const { root, repo } = await repository();
    for (const [text, why] of [['', /the file is empty$/], ['\u001b]0;x\u0007', /not valid JSON/], ['[1]', /not an object$/]] as const) {
      await writeFile(join(root, 'aim-repo.json'), text);
      await expect(repo.metadata()).rejects.toThrow(why);
    }
  });
});

