import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalBackend } from '../../../src/backends/local.js';
import { resolveVersion } from '../../../src/core/store/resolve.js';
import { Repository } from '../../../src/core/store/repository.js';
import { resolveShortDigest } from '../../../src/core/store/short-digest.js';
import { push } from '../../../src/core/transfer/push.js';
import { NotFoundError, UsageError } from '../../../src/lib/errors.js';

const folders: string[] = [];
afterEach(async () => Promise.all(folders.splice(0).map((f) => rm(f, { recursive: true, force: true }))));

describe('short digests', () => {
  it('resolve a unique prefix among the tagged versions, and list the candidates of an ambiguous one', async () => {
    const root = await mkdtemp(join(tmpdir(), 'aim-short-'));
    folders.push(root);
    process.env.AIM_HOME = join(root, 'home');
    await mkdir(join(root, 'repo'));
    await mkdir(join(root, 'src'));
    const repo = new Repository('r', new LocalBackend(join(root, 'repo')));
    const digests = new Map<string, string>();
    // 17 versions: two of them must share their first hex digit.
    for (let i = 0; i < 17; i++) {
      await writeFile(join(root, 'src', 'w.bin'), `version ${i}`);
      digests.set((await push(repo, join(root, 'src'), { model: 'm', tag: `v${i}` })).digest, `v${i}`);
    }
    const [first] = digests.keys();
    expect(await resolveShortDigest(repo, 'm', first!.slice(7, 19))).toBe(first);
    expect((await resolveVersion(repo, { model: 'm', digestPrefix: first!.slice(7, 19) })).digest).toBe(first);

    const byDigit = new Map<string, string[]>();
    for (const digest of digests.keys()) byDigit.set(digest[7]!, [...(byDigit.get(digest[7]!) ?? []), digest]);
    const [digit, shared] = [...byDigit].find(([, list]) => list.length > 1)!;
    const error = await resolveShortDigest(repo, 'm', digit!).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(UsageError);
    for (const digest of shared) expect((error as Error).message).toMatch(new RegExp(`${digest.slice(7, 12)}\\w* \\([^)]*\\b${digests.get(digest)}\\b`));
    await expect(resolveShortDigest(repo, 'm', 'ffffffffffff0')).rejects.toBeInstanceOf(NotFoundError);
  });
});
