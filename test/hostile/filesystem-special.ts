// Special files where regular ones belong (FIFOs, whose open() would block for good, and devices with endless
// bytes), names the file system cannot hold, and a destination it cannot write.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  fifo,
  type HostileCase,
  mkfifo,
  mountTmpfs,
  plantLongNameVersion,
  pull,
  pullAfter,
  pulledIntact,
  push,
  refused,
  zeroDevice,
  withoutMap,
} from './filesystem-case.js';

export const SPECIAL_CASES: HostileCase[] = [
  // FIFOs where files belong: an open() of one would block forever (and hold the process's exit).
  { name: 'a FIFO at a tag (pull)', plant: (c) => fifo(c.inRepo(c.pristine.tag)), args: pull, outcome: refused(/tags\/v1 is a FIFO, not a regular file/) },
  { name: 'a FIFO at a tag (push over it)', plant: (c) => fifo(c.inRepo(c.pristine.tag)), args: push('v1'), outcome: refused(/tags\/v1 is a FIFO/) },
  { name: 'a FIFO at a pack', plant: (c) => fifo(c.inRepo(c.pristine.pack)), args: pull, outcome: refused(/is a FIFO, not a regular file/) },
  { name: 'a FIFO at an index file', plant: withoutMap((c) => fifo(c.inRepo(c.pristine.index))), args: pull, outcome: refused(/missing from repository r/) },
  {
    name: 'a FIFO at the manifest',
    plant: (c) => fifo(c.inRepo(c.pristine.manifest)),
    args: pull,
    outcome: refused(/manifests\/blake3\/.* is a FIFO, not a regular file/),
  },
  {
    name: 'a FIFO at aim-repo.json',
    plant: (c) => fifo(c.inRepo('aim-repo.json')),
    args: push('v2'),
    outcome: refused(/aim-repo\.json is a FIFO, not a regular file/),
  },
  {
    name: 'a FIFO at a DEST/.aim journal',
    plant: pullAfter((c) => mkfifo(join(c.dest, '.aim', 'partial', `${c.pristine.weightsHex}.journal`))),
    args: pull,
    outcome: refused(/\.journal is a FIFO, not a regular file/),
  },
  {
    name: 'a FIFO at DEST/.aim/state.json',
    plant: pullAfter((c) => mkfifo(join(c.dest, '.aim', 'state.json'))),
    args: pull,
    outcome: refused(/state\.json is a FIFO, not a regular file/),
  },
  {
    name: 'a FIFO at DEST/.aim/partial/<digest>',
    plant: pullAfter((c) => mkfifo(join(c.dest, '.aim', 'partial', c.pristine.weightsHex))),
    args: pull,
    outcome: refused(/partial\/[0-9a-f]{64} is a FIFO, not a regular file/),
  },
  {
    name: 'a FIFO under a final file name in DEST is replaced',
    plant: async (c) => { await mkdir(c.dest); await mkfifo(join(c.dest, 'weights.bin')); },
    args: pull,
    outcome: pulledIntact,
  },
  {
    name: 'a FIFO at a pack (verify)',
    plant: (c) => fifo(c.inRepo(c.pristine.pack)),
    args: () => ['verify', 'r'],
    outcome: refused(/is a FIFO, not a regular file/),
  },
  // Devices: endless bytes.
  {
    name: 'a device node at a tag',
    plant: (c) => zeroDevice(c.inRepo(c.pristine.tag)),
    args: pull,
    outcome: refused(/tags\/v1 is a device, not a regular file/),
  },
  { name: 'a device node at a pack', plant: (c) => zeroDevice(c.inRepo(c.pristine.pack)), args: pull, outcome: refused(/is a device, not a regular file/) },
  // Names the file system cannot hold, and a destination it cannot write.
  {
    name: 'a destination name longer than the file system allows',
    plant: async () => undefined,
    args: (c) => ['pull', 'r/m:v1', join(c.ws.dir, 'x'.repeat(300))],
    outcome: refused(/file name too long/),
  },
  { // the manifest's path rule may refuse it first
    name: 'a manifest naming a file longer than the file system allows',
    plant: plantLongNameVersion,
    args: (c) => ['pull', 'r/m:long', c.dest],
    outcome: refused(/file name too long|longer than 255 bytes/),
  },
  {
    name: 'a read-only destination',
    plant: (c) => mountTmpfs(c.dest, 'ro,size=1m'),
    args: pull,
    outcome: refused(/cannot write .*: the file system is read-only/),
  },
  { // a recursive mkdir says ENOENT there, not EROFS: the pull must not say the destination does not exist
    name: 'a destination to make inside a read-only file system',
    plant: (c) => mountTmpfs(c.dest, 'ro,size=1m'),
    args: (c) => ['pull', 'r/m:v1', join(c.dest, 'out')],
    outcome: refused(/cannot write .*: the file system is read-only/),
  },
];
