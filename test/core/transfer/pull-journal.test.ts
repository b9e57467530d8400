// The journal of a big file's pull claims only chunks whose bytes are all in the file: a chunk written around the page
// cache may end in a partial block that waits in the writer's memory for the next chunk's first bytes, and a pull
// killed then loses that block. Real files, written by the real DirectWriter; the file read back through another
// handle, as a resumed pull reads it.
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, readFile, rm, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { silentProgress } from '../../../src/core/progress.js';
import { JournalProgress, readJournal } from '../../../src/core/transfer/pull-journal.js';
import { DirectWriter } from '../../../src/lib/direct-writer.js';

const MiB = 1024 * 1024;
const root = await mkdtemp(join(tmpdir(), 'aim-journal-'));
afterAll(() => rm(root, { recursive: true, force: true }));

/** ext2/3/4, xfs, btrfs, f2fs: where the writer takes the direct path, and a partial block can wait in memory. */
const directFileSystems = new Set([0xef53, 0x58465342, 0x9123683e, 0xf2f52010]);
const tmpTakesDirect = directFileSystems.has((await statfs(root)).type);

/**
 * A partial file of three chunks and its journal, as a pull writes them: chunk 0 crosses the journal's 64 MiB step and
 * ends 100 bytes into a block, which chunk 1 completes.
 */
async function partialFile(name: string) {
  const sizes = [64 * MiB + 100, 5000, 3 * MiB];
  const offsets = sizes.reduce((at, size) => [...at, at.at(-1)! + size], [0]);
  const data = randomBytes(offsets.at(-1)!);
  const path = join(root, name);
  const journalPath = `${path}.journal`;
  const handle = await open(path, 'w+');
  const writer = await DirectWriter.open(path, handle, data.length, 0);
  expect(writer.isDirect).toBe(tmpTakesDirect);
  const journal = new JournalProgress(journalPath, handle, sizes, offsets, silentProgress.begin('pull', data.length), 0, () => writer.inFileBefore);
  return {
    offsets,
    writer,
    journal,
    chunk: (index: number) => data.subarray(offsets[index], offsets[index + 1]),
    /** Every chunk the journal on disk claims reads back whole from the file, as a resumed pull checks them. */
    claimedChunksAreInTheFile: async (): Promise<number> => {
      await journal.settle();
      const { chunksDone } = await readJournal(journalPath);
      const inFile = await readFile(path);
      expect(inFile.subarray(0, offsets[chunksDone]).equals(data.subarray(0, offsets[chunksDone]))).toBe(true);
      return chunksDone;
    },
    close: async () => {
      await writer.finish();
      await handle.close();
    },
  };
}

describe('the journal of a pull', () => {
  it('never claims a chunk whose last bytes still wait in the writer', async () => {
    const { offsets, writer, journal, chunk, claimedChunksAreInTheFile, close } = await partialFile('partial');
    const write = async (index: number) => {
      await writer.write(chunk(index), offsets[index]!);
      journal.finish(index);
    };

    await write(0);
    expect(await claimedChunksAreInTheFile()).toBe(tmpTakesDirect ? 0 : 1);
    await write(1);
    await write(2);
    expect(await claimedChunksAreInTheFile()).toBe(1); // chunk 1 ends in a block still waiting: not claimed yet
    await close();
  });

  it('never claims a chunk whose last block is still being written', async () => {
    const { offsets, writer, journal, chunk, claimedChunksAreInTheFile, close } = await partialFile('partial-2');
    await writer.write(chunk(0), 0);
    journal.finish(0);
    await writer.write(chunk(2), offsets[2]!);
    // Chunk 1 completes the block chunk 0 ends in; that block's write is held at a gate while chunk 2 is reported done.
    const internals = writer as unknown as { directWrite(bytes: Buffer, position: number): Promise<void> };
    const directWrite = internals.directWrite.bind(writer);
    let openGate!: () => void;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    let held = false;
    internals.directWrite = async (bytes, position) => {
      if (position === 64 * MiB) {
        held = true;
        await gate;
      }
      return directWrite(bytes, position);
    };
    const writing = writer.write(chunk(1), offsets[1]!);
    await new Promise((resolve) => setImmediate(resolve));
    expect(held).toBe(tmpTakesDirect);
    journal.finish(2);
    await claimedChunksAreInTheFile();
    openGate();
    await writing;
    journal.finish(1);
    await close();
  });
});
