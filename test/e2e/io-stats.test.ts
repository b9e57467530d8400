// AIM_IO_STATS through the built CLI: a pull writes what it asked of the repository, and the figures match what
// the pull had to do (read the model's bytes from packs, write nothing to the repository).
import { readdir, readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateModel } from '../../fixtures/generate-model.js';
import { createWorkspace, expectUserError, type Workspace } from '../helpers/cli.js';

const MiB = 1024 * 1024;

describe('AIM_IO_STATS', () => {
  let ws: Workspace;
  beforeAll(async () => {
    ws = await createWorkspace((dir) => ({ r: { type: 'local', path: `${dir}/repo`, packs: true } }));
    await generateModel(ws.path('model'), { files: [{ path: 'weights.bin', size: 3 * MiB }, { path: 'config.json', size: 200 }], seed: 'io-stats' });
    await ws.json(['push', 'r/m:v1', 'model']);
  });
  afterAll(() => ws.cleanup());

  it('a pull writes its calls and bytes per key prefix: the model from packs/, nothing written', async () => {
    const file = ws.path('pull-io.json');
    await ws.json(['pull', 'r/m:v1', 'out'], { env: { AIM_IO_STATS: file } });
    const stats = JSON.parse(await readFile(file, 'utf8'));
    const modelBytes = 3 * MiB + 200;
    expect(stats.bytesRead['packs/']).toBeGreaterThanOrEqual(modelBytes);
    expect(stats.bytesRead['packs/']).toBeLessThan(modelBytes + 64 * 1024);
    expect(stats.bytesRead['manifests/']).toBeGreaterThan(0);
    expect(stats.bytesWritten).toEqual({});
    const reads = (stats.calls.get ?? 0) + (stats.calls.getRange ?? 0) + (stats.calls.readInto ?? 0);
    expect(reads).toBeGreaterThan(0);
    expect(reads).toBeLessThan(50);
    expect(stats.calls.put ?? 0).toBe(0);
    expect(stats.calls.putIfAbsent ?? 0).toBe(0);
  });

  it('a push counts its writes, a failed command still writes its counts, and no variable writes no file', async () => {
    const pushFile = ws.path('push-io.json');
    await generateModel(ws.path('model2'), { files: [{ path: 'weights.bin', size: 2 * MiB }], seed: 'io-stats-2' });
    await ws.json(['push', 'r/m:v2', 'model2'], { env: { AIM_IO_STATS: pushFile } });
    const push = JSON.parse(await readFile(pushFile, 'utf8'));
    expect(push.bytesWritten['packs/']).toBeGreaterThanOrEqual(2 * MiB);
    expect(push.bytesWritten['manifests/']).toBeGreaterThan(0);

    const failedFile = ws.path('failed-io.json');
    expectUserError(await ws.run(['pull', 'r/m:nope', 'out2'], { env: { AIM_IO_STATS: failedFile } }), /nope/);
    const failed = JSON.parse(await readFile(failedFile, 'utf8'));
    expect(Object.values(failed.calls as Record<string, number>).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);

    const before = await readdir(ws.dir);
    await ws.json(['pull', 'r/m:v2', 'out3'], { env: { AIM_IO_STATS: '' } });
    expect((await readdir(ws.dir)).filter((name) => !before.includes(name))).toEqual(['out3']);
  });
});
