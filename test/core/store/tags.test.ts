import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalBackend } from '../../../src/backends/local.js';
import { digestOf } from '../../../src/core/format/digest.js';
import { ConflictError, IntegrityError } from '../../../src/lib/errors.js';
import { deleteModel, deleteVersion } from '../../../src/core/store/delete.js';
import { readableTags, type RepoProblem } from '../../../src/core/store/model-listing.js';
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

describe('damaged tags', () => {
  const tagPath = (model: string, tag: string) => join(root, 'models', model, 'tags', tag);

  it('getTag refuses a digest that is not one, naming the tag file, before it becomes a key', async () => {
    await updateTags(repo, 'hostile', 'v1', await record('h'), false);
    await writeFile(tagPath('hostile', 'v1'), JSON.stringify({ ...(await record('h')), digest: 'blake3:/../../dev/zero' }));
    const error = await repo.getTag('hostile', 'v1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IntegrityError);
    expect((error as Error).message).toMatch(/^corrupt tag at models\/hostile\/tags\/v1 in .*: digest: "blake3:\/\.\.\/\.\.\/dev\/zero" is not a digest/);
  });

  it('the model listing reports a tag that does not read as a problem naming it; the others still list', async () => {
    await updateTags(repo, 'mixed', 'v1', await record('m1'), false);
    await updateTags(repo, 'mixed', 'v2', await record('m2'), false);
    await writeFile(tagPath('mixed', 'v1'), '');
    const problems: RepoProblem[] = [];
    expect((await readableTags(repo, 'mixed', problems)).map((t) => t.tag).sort()).toEqual(['latest', 'v2']);
    expect(problems).toEqual([{ key: 'models/mixed/tags/v1', message: expect.stringMatching(/^corrupt tag at models\/mixed\/tags\/v1 in .*: the file is empty$/) }]);
  });

  it('a push writes over a damaged tag, and a damaged version tag can be deleted', async () => {
    await updateTags(repo, 'repair', 'v1', await record('r1'), false);
    await writeFile(tagPath('repair', 'latest'), '{"digest":');
    const next = await record('r2');
    expect(await updateTags(repo, 'repair', 'v2', next, false)).toBe('created');
    expect((await repo.getTag('repair', 'latest'))!.digest).toBe(next.digest);
    await writeFile(tagPath('repair', 'v1'), 'garbage');
    expect((await deleteVersion(repo, 'repair', 'v1')).deleted).toEqual(['v1']);
    expect((await repo.getTag('repair', 'latest'))!.digest).toBe(next.digest);
  });

  it('deleting a model removes every tag, damaged ones too', async () => {
    await updateTags(repo, 'gone', 'v1', await record('g1'), false);
    await writeFile(tagPath('gone', 'v1'), '\u0000');
    expect((await deleteModel(repo, 'gone')).deleted.sort()).toEqual(['latest', 'v1']);
    expect(await repo.listModels()).not.toContain('gone');
  });

});
