// How much of a file the page cache holds (src/lib/page-cache.ts): util-linux's fincore on the real file, and what a
// broken or hostile `fincore` on PATH answers (nothing is believed that is not one count within the file's size).
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, open, readFile, rm, statfs, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { pollUntil } from '../../src/lib/poll.js';

const run = promisify(execFile);
const root = await mkdtemp(join(tmpdir(), 'aim-page-cache-'));
const realPath = process.env.PATH;
afterEach(() => {
  process.env.PATH = realPath;
});
// The module remembers a fincore that is missing or too slow: each test starts from a fresh copy of it.
beforeEach(() => {
  vi.resetModules();
});
afterAll(() => rm(root, { recursive: true, force: true }));

const haveFincore = await run('fincore', ['--version']).then(() => true, () => false);
/** tmpfs keeps its files in the page cache: there is nowhere else to drop them to. */
const TMPFS = 0x01021994;

async function shareOf(path: string): Promise<number | undefined> {
  const { cachedShare } = await import('../../src/lib/page-cache.js');
  const handle = await open(path, 'r');
  try {
    return await cachedShare(handle, (await handle.stat()).size);
  } finally {
    await handle.close();
  }
}

/** A `fincore` on PATH that runs `script` (sh). */
async function fakeFincore(name: string, script: string): Promise<void> {
  const folder = join(root, name);
  await mkdir(folder);
  await writeFile(join(folder, 'fincore'), `#!/bin/sh\n${script}\n`);
  await chmod(join(folder, 'fincore'), 0o755);
  process.env.PATH = `${folder}${delimiter}${realPath}`;
}

describe('cachedShare', () => {
  it('CI has util-linux fincore, so the cached-read path is tested there', () => {
    expect(haveFincore || !process.env.CI).toBe(true);
  });

  it.runIf(haveFincore)('says a file just written is cached, and not once its pages are dropped', async () => {
    const file = join(root, 'data');
    await writeFile(file, Buffer.alloc(8 * 1024 * 1024, 7));
    expect(await shareOf(file)).toBeGreaterThan(0.9);
    await run('sync', [file]);
    await run('dd', [`if=${file}`, 'iflag=nocache', 'count=0', 'status=none']);
    const dropped = await shareOf(file);
    if ((await statfs(root)).type === TMPFS) expect(dropped).toBe(1);
    else expect(dropped).toBeLessThan(0.1);
  });

  it('believes one count, and no more than the file holds', async () => {
    const file = join(root, 'small');
    await writeFile(file, Buffer.alloc(4096));
    await fakeFincore('huge', 'echo 999999999999');
    expect(await shareOf(file)).toBe(1);
    await fakeFincore('half', 'echo 2048');
    expect(await shareOf(file)).toBe(0.5);
  });

  it.each([
    ['words', 'echo "1G 262144 1G data"'],
    ['a negative count', 'echo -5'],
    ['two counts', 'printf "4096\\n4096\\n"'],
    ['an error', 'echo 4096; exit 1'],
    ['endless output', 'yes 1'],
  ])('answers nothing when fincore gives %s', async (name, script) => {
    const file = join(root, `file-${name.replace(/\W/g, '-')}`);
    await writeFile(file, Buffer.alloc(4096));
    await fakeFincore(`fake-${name.replace(/\W/g, '-')}`, script);
    expect(await shareOf(file)).toBeUndefined();
  }, 10_000);

  it('leaves nothing that fincore started running once it answers', async () => {
    const file = join(root, 'forked');
    const pidFile = join(root, 'forked.pid');
    await writeFile(file, Buffer.alloc(4096));
    // The background child keeps the output pipe open after fincore itself exits.
    await fakeFincore('forks', `sleep 60 & echo $! > ${pidFile}; echo 4096`);
    await shareOf(file);
    const pid = Number(await readFile(pidFile, 'utf8'));
    // The group was sent SIGKILL as the answer settled; on a busy machine the child may not have run since to die.
    const running = async () => {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
      return stat !== undefined && !/^\d+ \(.*\) Z /.test(stat);
    };
    const gone = await pollUntil(async () => ((await running()) ? { done: false } : { done: true, value: true }), {
      intervalMs: 20,
      timeoutMs: 5000,
      onTimeout: () => new Error('the child fincore started still runs 5 s after the answer'),
    }).catch((error: Error) => {
      process.kill(pid, 'SIGKILL');
      throw error;
    });
    expect(gone).toBe(true);
  }, 15_000);

  it('answers nothing when fincore does not answer in time, and stops asking', async () => {
    const file = join(root, 'slow');
    await writeFile(file, Buffer.alloc(4096));
    await fakeFincore('fake-slow', 'exec sleep 30');
    expect(await shareOf(file)).toBeUndefined();
    await fakeFincore('fake-quick', 'echo 4096');
    expect(await shareOf(file)).toBeUndefined();
  }, 10_000);

  it('answers nothing, and stops asking, where fincore is not installed', async () => {
    const file = join(root, 'nowhere');
    await writeFile(file, Buffer.alloc(4096));
    process.env.PATH = join(root, 'empty-path');
    expect(await shareOf(file)).toBeUndefined();
    await fakeFincore('late', 'echo 4096');
    expect(await shareOf(file)).toBeUndefined();
  });
});
