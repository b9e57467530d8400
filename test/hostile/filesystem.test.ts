// The repository, the pull destination's .aim and AIM_HOME as an attacker leaves them: links planted where aim
// reads and writes, FIFOs and devices where it expects files, names the file system cannot hold, a read-only
// destination. Every case runs the real CLI under the harness's time and memory bound and asserts on effects: a
// sentinel folder outside the repository and the destination is exactly as it was (every link points into it, so a
// write or delete through one would show), and the command either refuses with one plain line or, where replacing
// what was planted is the right answer, succeeds with the right bytes in place.
import { cp, lstat, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateModel } from '../../fixtures/generate-model.js';
import { createWorkspace } from '../helpers/cli.js';
import { BOUNDS, type Case, KiB, onlyFile, type Pristine, run, unmounts } from './filesystem-case.js';
import { LINK_CASES } from './filesystem-links.js';
import { SPECIAL_CASES } from './filesystem-special.js';
import { expectRefused, expectUnchanged, runBounded, snapshot } from './harness.js';

const CASES = [...LINK_CASES, ...SPECIAL_CASES];

describe('hostile file system: links, FIFOs, devices, long names, read-only places', () => {
  let pristine: Pristine;

  beforeAll(async () => {
    const ws = await createWorkspace((dir) => ({ r: { type: 'local', path: `${dir}/repo` } }));
    await generateModel(ws.path('model'), {
      files: [{ path: 'weights.bin', size: 1536 * KiB }, { path: 'config.json', size: 300 }, { path: 'sub/extra.bin', size: 200 * KiB }],
      seed: 'hostile-fs',
    });
    const pushed = await ws.json(['push', 'r/m:v1', 'model']);
    const manifest = JSON.parse(await readFile(ws.path('repo', 'manifests', 'blake3', pushed.digest.slice(7, 9), pushed.digest.slice(7)), 'utf8'));
    const weights = manifest.files.find((file: { path: string }) => file.path === 'weights.bin');
    pristine = {
      ws,
      tag: 'models/m/tags/v1',
      pack: await onlyFile(ws.path('repo'), 'packs'),
      index: await onlyFile(ws.path('repo'), 'index'),
      manifest: await onlyFile(ws.path('repo'), 'manifests'),
      weightsHex: weights.digest.slice(7),
    };
  });
  afterAll(async () => {
    for (const dir of unmounts) await run('umount', [dir]).catch(() => undefined);
    await pristine?.ws.cleanup();
  });

  it('has at least 20 cases', () => expect(CASES.length).toBeGreaterThanOrEqual(20));

  it.each(CASES.map((hostile) => [hostile.name, hostile] as const))('%s', async (_name, hostile) => {
    const ws = await createWorkspace((dir) => ({ r: { type: 'local', path: `${dir}/repo` } }));
    try {
      await cp(pristine.ws.path('repo'), ws.path('repo'), { recursive: true });
      const c: Case = {
        name: hostile.name,
        ws,
        repo: ws.path('repo'),
        outside: ws.path('outside'),
        dest: ws.path('dest'),
        model: pristine.ws.path('model'),
        pristine,
        inRepo: (relative) => join(ws.path('repo'), ...relative.split('/')),
      };
      await mkdir(c.outside);
      await writeFile(join(c.outside, 'sentinel.txt'), 'must never change\n');
      await hostile.plant(c);
      const before = await snapshot(c.outside);
      if ('refused' in hostile.outcome) {
        await expectRefused(ws, hostile.args(c), hostile.outcome.refused, BOUNDS);
      } else {
        const result = await runBounded(ws, hostile.args(c), BOUNDS);
        expect(result.code, result.stderr).toBe(0);
        await hostile.outcome.ok(c);
      }
      await expectUnchanged(c.outside, before);
    } finally {
      await ws.cleanup().catch(() => undefined);
    }
  });

  it('a link left under a final name in DEST is replaced by the pulled file, not written through', async () => {
    // The effect the table's `pulledIntact` cases rely on, checked on the link itself.
    const ws = await createWorkspace((dir) => ({ r: { type: 'local', path: `${dir}/repo` } }));
    try {
      await cp(pristine.ws.path('repo'), ws.path('repo'), { recursive: true });
      await mkdir(ws.path('dest'));
      await writeFile(ws.path('target.txt'), 'outside\n');
      await symlink(ws.path('target.txt'), ws.path('dest', 'config.json'));
      expect((await runBounded(ws, ['pull', 'r/m:v1', ws.path('dest')], BOUNDS)).code).toBe(0);
      expect((await lstat(ws.path('dest', 'config.json'))).isFile()).toBe(true);
      expect(await readFile(ws.path('target.txt'), 'utf8')).toBe('outside\n');
    } finally {
      await ws.cleanup();
    }
  });
});
