import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalBackend } from '../../../src/backends/local.js';
import { digestOf } from '../../../src/core/format/digest.js';
import { ConflictError } from '../../../src/lib/errors.js';
import { Repository, type TagRecord } from '../../../src/core/store/repository.js';
import { updateTags } from '../../../src/core/store/tags.js';

const root = await mkdtemp(join(tmpdir(), 'aim-tags-'));
afterAll(() => rm(root, { recursive: true, force: true }));
const repo = new Repository('r', new LocalBackend(root));

async function record(content: string): Promise<TagRecord> {
  return { digest: await digestOf(Buffer.from(content)), pushedAt: new Date().toISOString(), size: content.length, files: 1 };
}

describe('tags on a folder (no compare-and-swap)', () => {
  it('lets exactly one of two racing pushes create a version tag; the other is refused', async () => {
    const [a, b] = [await record('a'), await record('b')];
    const results = await Promise.allSettled([updateTags(repo, 'm', 'v1', a, false), updateTags(repo, 'm', 'v1', b, false)]);
    const created = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(created).toEqual([{ status: 'fulfilled', value: 'created' }]);
    expect(refused).toHaveLength(1);
    expect(refused[0]!.reason).toBeInstanceOf(ConflictError);
    const winner = (await repo.getTag('m', 'v1'))!.digest;
    expect([a.digest, b.digest]).toContain(winner);
    expect((await repo.getTag('m', 'latest'))!.digest).toBe(winner);
  });

  it('treats two racing pushes of the same content as one creation and one no-op', async () => {
    const same = await record('same');
    const outcomes = await Promise.all([updateTags(repo, 'n', 'v1', same, false), updateTags(repo, 'n', 'v1', { ...same }, false)]);
    expect(outcomes.sort()).toEqual(['created', 'unchanged']);
  });

  it('moves a tag only with force', async () => {
    await expect(updateTags(repo, 'n', 'v1', await record('other'), false)).rejects.toBeInstanceOf(ConflictError);
    expect(await updateTags(repo, 'n', 'v1', await record('other'), true)).toBe('moved');
  });
});
