// Links planted where aim reads and writes: in the pull's destination, in the repository, in AIM_HOME. Each points
// into the case's sentinel folder, so a write or delete through it would show there.
import { lstat, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';
import { expectSameTree } from '../helpers/cli.js';
import {
  type HostileCase,
  KiB,
  linkToCopy,
  mkfifo,
  plantInCache,
  pull,
  pullAfter,
  pulled,
  pulledIntact,
  pushedIntact,
  push,
  refused,
  replaceWith,
  statCacheId,
  withoutMap,
} from './filesystem-case.js';

export const LINK_CASES: HostileCase[] = [
  // Links planted in the pull's destination.
  {
    name: 'DEST/.aim is a link',
    plant: async (c) => { await mkdir(c.dest); await symlink(c.outside, join(c.dest, '.aim')); },
    args: pull,
    outcome: refused(/\.aim is a symlink, not a folder/),
  },
  {
    name: 'DEST/.aim/partial is a link',
    plant: async (c) => { await mkdir(join(c.dest, '.aim'), { recursive: true }); await symlink(c.outside, join(c.dest, '.aim', 'partial')); },
    args: pull,
    outcome: refused(/partial is a symlink, not a folder/),
  },
  {
    name: 'DEST/.aim/partial/<digest> links to a file outside',
    plant: pullAfter((c) => symlink(join(c.outside, 'sentinel.txt'), join(c.dest, '.aim', 'partial', c.pristine.weightsHex))),
    args: pull,
    outcome: refused(/partial\/[0-9a-f]{64} is a symlink, not a regular file/),
  },
  {
    name: 'DEST/.aim/partial/<digest>.journal links to a file outside',
    plant: pullAfter((c) => symlink(join(c.outside, 'sentinel.txt'), join(c.dest, '.aim', 'partial', `${c.pristine.weightsHex}.journal`))),
    args: pull,
    outcome: refused(/\.journal is a symlink, not a regular file/),
  },
  {
    name: 'a DEST/.aim journal far too long to be one (restarts that file)',
    plant: pullAfter(async (c) => { await writeFile(join(c.dest, '.aim', 'partial', c.pristine.weightsHex), Buffer.alloc(1024)); await writeFile(join(c.dest, '.aim', 'partial', `${c.pristine.weightsHex}.journal`), Buffer.alloc(64 * KiB + 1, 0x20)); }),
    args: pull,
    outcome: pulledIntact,
  },
  {
    name: 'DEST/.aim/state.json links to a file outside',
    plant: pullAfter((c) => symlink(join(c.outside, 'sentinel.txt'), join(c.dest, '.aim', 'state.json'))),
    args: pull,
    outcome: refused(/state\.json is a symlink, not a regular file/),
  },
  {
    name: 'DEST/.aim/trash is a link (a file in DEST gets replaced, --force)',
    plant: pullAfter(async (c) => { await writeFile(join(c.dest, 'weights.bin'), 'old'); await symlink(c.outside, join(c.dest, '.aim', 'trash')); }),
    // The file is not aim's: only --force replaces it, and the trash is where it would go.
    args: (c) => [...pull(c), '--force'],
    outcome: pulledIntact,
  },
  {
    name: 'a final file name in DEST links to a file outside',
    plant: async (c) => { await mkdir(c.dest); await symlink(join(c.outside, 'sentinel.txt'), join(c.dest, 'weights.bin')); },
    args: pull,
    outcome: pulledIntact,
  },
  {
    name: 'a folder of DEST on a file\'s path is a link',
    plant: async (c) => { await mkdir(c.dest); await symlink(c.outside, join(c.dest, 'sub')); },
    args: pull,
    outcome: refused(/sub \(a symlink where the version has a folder\) is not aim's/),
  },
  {
    name: 'a folder of DEST on a file\'s path is a link (--force: the link goes, not what it points at)',
    plant: async (c) => { await mkdir(c.dest); await symlink(c.outside, join(c.dest, 'sub')); },
    args: (c) => [...pull(c), '--force'],
    outcome: pulledIntact,
  },
  // Links planted in the repository.
  {
    name: 'models/<m> in the repository is a link (pull)',
    plant: (c) => linkToCopy(c, c.inRepo('models/m')),
    args: pull,
    outcome: refused(/models\/m is a symlink, not a folder/),
  },
  {
    name: 'models/<m> in the repository is a link (push)',
    plant: (c) => linkToCopy(c, c.inRepo('models/m')),
    args: push('v2'),
    outcome: refused(/models\/m is a symlink, not a folder/),
  },
  {
    name: 'models/<m>/tags is a link (push)',
    plant: (c) => linkToCopy(c, c.inRepo('models/m/tags')),
    args: push('v2'),
    outcome: refused(/tags is a symlink, not a folder/),
  },
  {
    name: 'a tag is a link (pull)',
    plant: (c) => linkToCopy(c, c.inRepo(c.pristine.tag)),
    args: pull,
    outcome: refused(/tags\/v1 is a symlink, not a regular file/),
  },
  {
    name: 'a tag is a link (push over it)',
    plant: (c) => linkToCopy(c, c.inRepo(c.pristine.tag)),
    args: push('v1'),
    outcome: refused(/tags\/v1 is a symlink/),
  },
  {
    name: 'a pack is a link',
    plant: (c) => linkToCopy(c, c.inRepo(c.pristine.pack)),
    args: pull,
    outcome: refused(/packs\/[0-9a-f]{2}\/[0-9a-f]{32} is a symlink, not a regular file/),
  },
  {
    name: 'a pack links to /dev/zero',
    plant: (c) => replaceWith((path) => symlink('/dev/zero', path))(c.inRepo(c.pristine.pack)),
    args: pull,
    outcome: refused(/is a symlink, not a regular file/),
  },
  { name: 'an index file is a link', plant: withoutMap((c) => linkToCopy(c, c.inRepo(c.pristine.index))), args: pull, outcome: refused(/missing from repository r/) },
  {
    name: 'the manifest is a link',
    plant: (c) => linkToCopy(c, c.inRepo(c.pristine.manifest)),
    args: pull,
    outcome: refused(/manifests\/blake3\/.* is a symlink, not a regular file/),
  },
  {
    name: 'aim-repo.json is a link (push)',
    plant: (c) => linkToCopy(c, c.inRepo('aim-repo.json')),
    args: push('v2'),
    outcome: refused(/aim-repo\.json is a symlink, not a regular file/),
  },
  {
    name: 'models/<m> in the repository is a link (model delete)',
    plant: (c) => linkToCopy(c, c.inRepo('models/m')),
    args: () => ['model', 'delete', 'r', 'm'],
    outcome: refused(/models\/m is a symlink, not a folder/),
  },
  {
    name: 'a tag is a link (delete-version)',
    plant: (c) => linkToCopy(c, c.inRepo(c.pristine.tag)),
    args: () => ['model', 'delete-version', 'r', 'm', '--tag', 'v1'],
    outcome: refused(/tags\/v1 is a symlink/),
  },
  {
    name: 'a pack is a link (verify)',
    plant: (c) => linkToCopy(c, c.inRepo(c.pristine.pack)),
    args: () => ['verify', 'r'],
    outcome: refused(/is a symlink, not a regular file/),
  },
  // Links planted in AIM_HOME: the caches are skipped, never read or written through.
  {
    name: 'AIM_HOME/cache is a link (push, then pull)',
    plant: async (c) => { await mkdir(c.ws.home, { recursive: true }); await symlink(c.outside, join(c.ws.home, 'cache')); },
    args: push('v2'),
    outcome: pushedIntact,
  },
  {
    name: 'AIM_HOME/cache/index is a link (pull)',
    plant: async (c) => { await mkdir(join(c.ws.home, 'cache'), { recursive: true }); await symlink(c.outside, join(c.ws.home, 'cache', 'index')); },
    args: pull,
    outcome: pulledIntact,
  },
  {
    name: 'a FIFO in AIM_HOME\'s index cache (pull)',
    plant: (c) => plantInCache(c, 'index', (folder) => mkfifo(join(folder, c.pristine.index.split('/').at(-1)!))),
    args: pull,
    outcome: pulledIntact,
  },
  {
    name: 'a FIFO at AIM_HOME\'s stat cache (push, then pull)',
    plant: (c) => plantInCache(c, 'stat', (folder, id) => mkfifo(join(folder, `${id}.json`)), true),
    args: push('v2'),
    outcome: {
      ok: async (c) => {
        await expectSameTree(await pulled(c, 'v2'), c.model);
        // The push found the FIFO where it keeps its cache (not read, not hung on) and put a cache of its own there.
        expect((await lstat(join(c.ws.home, 'cache', 'stat', `${await statCacheId(c)}.json`))).isFile()).toBe(true);
      },
    },
  },
];
