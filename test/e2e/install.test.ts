// install, installed, update, rm and subset pulls through the built CLI, over two local repositories and one
// S3 repository (the suite's s3rver): names found across repositories, bytes moved asserted from --json, a real
// deployment holding an installed version, hostile install records, and the picker driven through a terminal.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { writeTinyGgufInto } from '../../fixtures/tiny-gguf.js';
import { S3Backend } from '../../src/backends/s3/s3.js';
import { createWorkspace, expectUserError, listFiles, type Workspace } from '../helpers/cli.js';
import { KEYS, runInPty } from '../helpers/pty.js';
import { S3RVER_ENV, useS3rverCredentials } from '../helpers/s3-server.js';

useS3rverCredentials();
const server = inject('s3');
const prefix = `install-${randomUUID()}`;
const NO_KAMIWAZA = { KAMIWAZA_BASE_URL: '', KAMIWAZA_BASE_URI: '', KAMIWAZA_API_URL: '' };

let ws: Workspace;
/** Sizes of the pushed version's files, by path. */
let sizes: Record<string, number>;
const NON_GGUF = ['config.json', 'nested/deep/tokenizer.json'];
const sum = (paths: string[]) => paths.reduce((total, path) => total + sizes[path]!, 0);

async function writeModel(folder: string, seed: number): Promise<void> {
  for (const quant of ['f16', 'q8_0', 'f32'] as const) await writeTinyGgufInto(folder, { quant, seed: quant === 'f16' ? seed : 5 });
  await writeFile(join(folder, 'config.json'), JSON.stringify({ model: 'tiny', seed: 5 }));
  await mkdir(join(folder, 'nested', 'deep'), { recursive: true });
  await writeFile(join(folder, 'nested', 'deep', 'tokenizer.json'), JSON.stringify({ tokens: Array.from({ length: 300 }, (_, i) => `t${i}`) }));
}

beforeAll(async () => {
  ws = await createWorkspace(
    (dir) => ({
      a: { type: 'local', path: join(dir, 'ra') },
      b: { type: 'local', path: join(dir, 'rb') },
      c: { type: 's3', path: `s3://${server.bucket}/${prefix}`, region: 'us-east-1', endpoint: server.endpoint },
    }),
    { ...S3RVER_ENV, ...NO_KAMIWAZA },
  );
  await writeModel(ws.path('m'), 5);
  for (const ref of ['a/tiny:v1', 'b/tiny:v1', 'c/solo:v1']) await ws.json(['push', ref, 'm']);
  const inspected = await ws.json(['inspect', 'c/solo:v1']);
  sizes = Object.fromEntries(inspected.files.map((f: { path: string; size: number }) => [f.path, f.size]));
});

afterAll(async () => {
  await ws.run(['stop', '--all']);
  const direct = new S3Backend({ type: 's3', path: `s3://${server.bucket}/${prefix}`, endpoint: server.endpoint, region: 'us-east-1' });
  for await (const item of direct.list('')) await direct.delete(item.key);
  await direct.close();
  await ws.cleanup();
});

describe('aim install', () => {
  it('refuses a name two repositories hold, listing both; installs a name only one holds, from S3, only the chosen quantization', async () => {
    const ambiguous = await ws.run(['install', 'tiny']);
    expectUserError(ambiguous, /"tiny" is a model in 2 repositories: a\/tiny, b\/tiny/);
    expect(ambiguous.code).toBe(2);
    expectUserError(await ws.run(['install', 'nothing-like-it']), /no model named "nothing-like-it" in any repository \(searched a, b, c\)/);

    const installed = await ws.json(['install', 'solo', '--quant', 'q8_0']);
    expect(installed.reference).toBe('c/solo:latest');
    expect(installed.pull.subset).toMatchObject({ quant: 'Q8_0', versionFiles: 5 });
    // Only the chosen quantization's bytes moved, with the files that are not GGUF.
    expect(installed.pull.bytesTransferred).toBe(sum(['tiny-llama-q8_0.gguf', ...NON_GGUF]));
    expect(await listFiles(installed.folder)).toEqual(['config.json', 'nested/deep/tokenizer.json', 'tiny-llama-q8_0.gguf']);
    const record = JSON.parse(await readFile(join(ws.home, 'installed', 'c', 'solo', 'latest.json'), 'utf8'));
    expect(record).toMatchObject({ repo: 'c', model: 'solo', tag: 'latest', digest: installed.record.digest, subset: { quant: 'Q8_0' } });
  });

  it('lists what is installed with its disk use, a version installed under two tags counted once', async () => {
    const v1 = await ws.json(['install', 'a/tiny:v1']);
    expect(v1.pull.bytesTransferred).toBe(sum(Object.keys(sizes)));
    const latest = await ws.json(['install', 'a/tiny']);
    expect(latest.folder).toBe(v1.folder);
    expect(latest.pull.bytesTransferred).toBe(0);

    const report = await ws.json(['installed']);
    expect(report.models.map((m: { reference: string }) => m.reference)).toEqual(['a/tiny:latest', 'a/tiny:v1', 'c/solo:latest']);
    const [tinyLatest, tinyV1, solo] = report.models;
    expect(tinyV1.diskBytes).toBeGreaterThanOrEqual(sum(Object.keys(sizes)));
    expect(tinyLatest.diskBytes).toBe(tinyV1.diskBytes);
    expect(report.totalDiskBytes).toBe(tinyV1.diskBytes + solo.diskBytes);
    expect((await ws.run(['installed'])).stdout).toMatch(/a\/tiny:v1\s+[0-9a-f]{12}\s+-\s+\d/);
    expect(await ws.json(['list', '--installed'])).toEqual(report);
  });

  it('update moves only the chunks that changed, keeps the old folder while another tag uses it, and says up to date after', async () => {
    await cp(ws.path('m'), ws.path('m2'), { recursive: true });
    await writeTinyGgufInto(ws.path('m2'), { quant: 'f16', seed: 6 });
    const pushed = await ws.json(['push', 'a/tiny:v2', 'm2']);
    const changed = (await ws.json(['inspect', 'a/tiny:v2'])).files.find((f: { path: string }) => f.path === 'tiny-llama-f16.gguf').size;

    const result = await ws.json(['update']);
    const byRef = Object.fromEntries(result.updates.map((u: { reference: string }) => [u.reference, u]));
    expect(byRef['a/tiny:latest']).toMatchObject({ status: 'updated', to: pushed.digest, bytesTransferred: changed, previous: { removed: false, keptFor: 'still installed as a/tiny:v1' } });
    expect(byRef['a/tiny:latest'].bytesSkipped).toBe(sum(Object.keys(sizes)) - sizes['tiny-llama-f16.gguf']!);
    expect(byRef['a/tiny:v1']).toMatchObject({ status: 'up to date', bytesTransferred: 0 });
    expect(byRef['c/solo:latest']).toMatchObject({ status: 'up to date', bytesTransferred: 0 });
    expect(result.bytesTransferred).toBe(changed);

    const again = await ws.run(['update']);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/a\/tiny:latest: up to date\na\/tiny:v1: up to date\nc\/solo:latest: up to date\nmoved 0 B in all/);
  });

  it('update keeps the old folder while a deployment serves from it, naming the deployment', async () => {
    const oldFolder = (await ws.json(['installed'])).models.find((m: { reference: string }) => m.reference === 'a/tiny:latest').folder;
    // A deployment record as `aim run` leaves it (Kamiwaza: no local process to find), serving from the old folder.
    const record = join(ws.home, 'deployments', 'held.json');
    await mkdir(join(ws.home, 'deployments'), { recursive: true });
    await writeFile(record, JSON.stringify({
      name: 'held', state: 'ready', engine: 'kamiwaza', model: 'a/tiny', modelId: 'a/tiny:latest', quant: 'F16',
      modelPath: join(oldFolder, 'tiny-llama-f16.gguf'), endpoint: 'http://127.0.0.1:9/v1', startedAt: new Date().toISOString(),
    }));
    try {
      await cp(ws.path('m'), ws.path('m3'), { recursive: true });
      await writeTinyGgufInto(ws.path('m3'), { quant: 'f16', seed: 7 });
      await ws.json(['push', 'a/tiny:v3', 'm3']);
      const result = await ws.json(['update', 'a/tiny:latest']);
      expect(result.updates).toMatchObject([{ reference: 'a/tiny:latest', status: 'updated', previous: { removed: false, keptFor: 'used by deployment held' } }]);
      expect(existsSync(oldFolder)).toBe(true);
      expect((await ws.json(['installed'])).models.find((m: { reference: string }) => m.reference === 'a/tiny:latest').folder).not.toBe(oldFolder);
    } finally {
      await rm(record, { force: true });
    }
  });

  it('run uses an installed version without the repository; rm refuses while it serves, --force stops nothing', async () => {
    await rename(ws.path('ra'), ws.path('ra-away'));
    try {
      const record = await ws.json(['run', 'a/tiny:v1', '--quant', 'q8_0', '--threads', '1', '--ctx-size', '256', '--name', 'tiny']);
      const v1Folder = (await ws.json(['installed'])).models.find((m: { reference: string }) => m.reference === 'a/tiny:v1').folder;
      expect(record.modelPath).toBe(join(v1Folder, 'tiny-llama-q8_0.gguf'));
      const inspected = await ws.json(['inspect', 'a/tiny:v1']);
      expect(inspected).toMatchObject({ source: 'installed', tag: 'v1', totalBytes: sum(Object.keys(sizes)) });
      expect(inspected.variants.map((v: { quant: string }) => v.quant)).toEqual(['F32', 'F16', 'Q8_0']);

      const refused = await ws.run(['rm', 'a/tiny:v1']);
      expectUserError(refused, /a\/tiny:v1 is in use by deployment tiny/);
      expect(refused.code).toBe(5);
      expect(existsSync(v1Folder)).toBe(true);

      const forced = await ws.json(['rm', 'a/tiny:v1', '--force']);
      expect(forced.removed).toMatchObject([{ reference: 'a/tiny:v1', removed: true, stillRunning: ['tiny'] }]);
      expect(forced.removed[0].freedBytes).toBeGreaterThan(0);
      expect(existsSync(v1Folder)).toBe(false);
      expect((await ws.json(['ps'])).deployments[0]).toMatchObject({ name: 'tiny', status: 'running' });
    } finally {
      await ws.run(['stop', 'tiny']);
      await rename(ws.path('ra-away'), ws.path('ra'));
    }
    const removed = await ws.json(['rm', 'solo']);
    expect(removed.removed).toMatchObject([{ reference: 'c/solo:latest', removed: true }]);
    // Not installed: run pulls the one GGUF it serves, among the files --include leaves, and nothing else.
    const served = await ws.json(['run', 'c/solo:v1', '--include', '*f16*', '--threads', '1', '--ctx-size', '256', '--name', 'solo']);
    await ws.run(['stop', 'solo']);
    expect(served.quant).toBe('F16');
    expect(await listFiles(join(served.modelPath, '..'))).toEqual(['tiny-llama-f16.gguf']);
    expect((await ws.json(['installed'])).models.map((m: { reference: string }) => m.reference)).toEqual(['a/tiny:latest']);
    expectUserError(await ws.run(['rm', 'solo']), /solo is not installed/);
  });
});

describe('aim install of a friendly name', () => {
  it("takes the reference and the quantization model_repos.yaml's models: maps it to", async () => {
    const config = (await readFile(ws.config, 'utf8')) + 'models:\n  chat:\n    ref: a/tiny:v1\n    quant: q8_0\n';
    await writeFile(ws.path('friendly.yaml'), config);
    const installed = await ws.json(['install', 'chat', '--config', ws.path('friendly.yaml')]);
    expect(installed.reference).toBe('a/tiny:v1');
    expect(installed.record.subset).toMatchObject({ quant: 'Q8_0' });
    expect(await listFiles(installed.folder)).toEqual(['config.json', 'nested/deep/tokenizer.json', 'tiny-llama-q8_0.gguf']);
    await ws.json(['rm', 'a/tiny:v1']);
  });
});

describe('subset pulls', () => {
  it('--include matches at any depth, and the subset is recorded in DEST/.aim', async () => {
    const pulled = await ws.json(['pull', 'a/tiny:v1', 'json-only', '--include', '*.json']);
    expect(await listFiles(ws.path('json-only'))).toEqual(['config.json', 'nested/deep/tokenizer.json']);
    expect(pulled).toMatchObject({ files: 2, subset: { include: ['*.json'], versionFiles: 5 } });
    expect(pulled.bytesTransferred).toBe(sum(NON_GGUF));
    const state = JSON.parse(await readFile(ws.path('json-only', '.aim', 'state.json'), 'utf8'));
    expect(Object.keys(state.files).sort()).toEqual(NON_GGUF);
    expect(state.subset).toEqual({ include: ['*.json'], exclude: [] });
  });

  it('--quant takes one quantization; a second pull of the same version adds to the folder', async () => {
    const f16 = await ws.json(['pull', 'a/tiny:v1', 'quant', '--quant', 'f16', '--exclude', 'nested']);
    expect(f16.bytesTransferred).toBe(sum(['tiny-llama-f16.gguf', 'config.json']));
    const q8 = await ws.json(['pull', 'a/tiny:v1', 'quant', '--quant', 'Q8_0', '--exclude', 'nested']);
    expect(q8.bytesTransferred).toBe(sizes['tiny-llama-q8_0.gguf']);
    expect(await listFiles(ws.path('quant'))).toEqual(['config.json', 'tiny-llama-f16.gguf', 'tiny-llama-q8_0.gguf']);
    expectUserError(await ws.run(['pull', 'a/tiny:v1', 'none', '--quant', 'q4_k_m']), /quantization q4_k_m not found in a\/tiny; it has F16, F32, Q8_0/);
    expectUserError(await ws.run(['pull', 'a/tiny:v1', 'none', '--include', '*.onnx']), /no file of a\/tiny matches \*\.onnx/);
  });

  it('--quant auto takes the largest quantization that fits free memory and says why', async () => {
    const roomy = await ws.json(['pull', 'a/tiny:v1', 'auto-roomy', '--quant', 'auto'], { env: { AIM_TEST_FREE_MEMORY: String(2 ** 40) } });
    expect(roomy.fit).toMatchObject({ fits: true, chosen: { quant: 'F32' } });
    const needOf = (quant: string) => roomy.fit.variants.find((v: { quant: string }) => v.quant === quant).fitBytes;
    const tight = { AIM_TEST_FREE_MEMORY: String(needOf('Q8_0')) };
    const fitted = await ws.json(['pull', 'a/tiny:v1', 'auto-tight', '--quant', 'auto'], { env: tight });
    expect(fitted.fit).toMatchObject({ fits: true, chosen: { quant: 'Q8_0' } });
    expect(fitted.bytesTransferred).toBe(sum(['tiny-llama-q8_0.gguf', ...NON_GGUF]));
    const human = await ws.run(['pull', 'a/tiny:v1', 'auto-human', '--quant', 'auto'], { env: tight });
    expect(human.stdout).toMatch(/quant auto {3}Q8_0 \([\d.]+ MiB\) fits [\d.]+ MiB free; F32 \([\d.]+ MiB\), F16 \([\d.]+ MiB\) would not/);
 
    // A GPU's free memory counts once RAM alone does not hold the largest (the stand-in reports one; no GPU here).
    const withGpu = { ...tight, AIM_TEST_FREE_GPU_MEMORY: String(needOf('F32') - needOf('Q8_0')) };
    const offloaded = await ws.json(['pull', 'a/tiny:v1', 'auto-gpu', '--quant', 'auto'], { env: withGpu });
    expect(offloaded.fit).toMatchObject({ fits: true, chosen: { quant: 'F32' }, gpu: { backend: 'test' }, freeBytes: needOf('F32') });
    const told = await ws.run(['pull', 'a/tiny:v1', 'auto-gpu-human', '--quant', 'auto'], { env: withGpu });
    expect(told.stdout).toMatch(/F32 \([\d.]+ MiB\) fits [\d.]+ MiB of RAM and [\d.]+ (KiB|MiB) of test GPU memory free/);
  });
});

describe('verify and inspect', () => {
  it('verify DIR checks the files a subset pull took and says it is a subset', async () => {
    expect(await ws.json(['verify', './json-only'])).toMatchObject({ ok: true, filesChecked: 2, subset: { files: 2, versionFiles: 5 }, missing: [], corrupt: [] });
    expect((await ws.run(['verify', './json-only'])).stdout).toMatch(/2 files checked .*; a subset: 2 of the version's 5 files: all good/);
    await writeFile(ws.path('json-only', 'config.json'), 'changed');
    await rm(ws.path('json-only', 'nested'), { recursive: true });
    const bad = await ws.run(['verify', './json-only', '--json']);
    expect(bad.code).toBe(4);
    expect(bad.json()).toMatchObject({ ok: false, corrupt: ['config.json'], missing: ['nested/deep/tokenizer.json'] });
  });

  it('inspect shows each GGUF variant with its KV cache from the header read in the repository', async () => {
    const inspected = await ws.json(['inspect', 'b/tiny:v1']);
    expect(inspected.source).toBe('repository');
    for (const variant of inspected.variants) {
      expect(variant).toMatchObject({ exact: true });
      // The tiny model (fixtures/tiny-gguf.ts): 2 layers x 2048 tokens x 4 KV heads x (16 K + 16 V values) x 2 bytes.
      expect(variant.kvCacheBytes).toBe(2 * 2048 * 4 * 32 * 2);
      expect(variant.memoryBytes).toBe(variant.bytes + variant.kvCacheBytes + 150 * 1024 * 1024);
    }
    expect(inspected.variants.map((v: { quant: string; bytes: number }) => [v.quant, v.bytes])).toEqual([
      ['F32', sizes['tiny-llama-f32.gguf']], ['F16', sizes['tiny-llama-f16.gguf']], ['Q8_0', sizes['tiny-llama-q8_0.gguf']],
    ]);
    expect((await ws.run(['inspect', 'b/tiny:v1'])).stdout).toMatch(/QUANT\s+FILE SIZE\s+KV CACHE\s+MEMORY NEED\nF32\s/);
  });
});

describe('hostile install records', () => {
  it('a garbage, linked or huge record is reported by name; the others keep working', async () => {
    const folder = join(ws.home, 'installed', 'a', 'tiny');
    await writeFile(join(folder, 'v2.json'), '{"version": 1, "repo": "a", "model":');
    await writeFile(ws.path('secret.json'), JSON.stringify({ secret: 'not a record' }));
    await symlink(ws.path('secret.json'), join(folder, 'v8.json'));
    await writeFile(join(folder, 'v7.json'), Buffer.alloc(1024 * 1024, 0x20));
    const latest = JSON.parse(await readFile(join(folder, 'latest.json'), 'utf8'));
    await writeFile(join(folder, 'v6.json'), JSON.stringify(latest)); // names latest, sits under v6

    const listed = await ws.run(['installed', '--json']);
    expect(listed.code).toBe(0);
    expect(listed.json().models.map((m: { reference: string }) => m.reference)).toEqual(['a/tiny:latest']);
    for (const name of ['v2', 'v6', 'v7', 'v8']) expect(listed.stderr).toMatch(new RegExp(`skipped .*${name}\\.json`));
    expect(listed.stderr).not.toMatch(/not a record/);

    expectUserError(await ws.run(['run', 'a/tiny:v2']), /corrupt install record at .*v2\.json/);
    expectUserError(await ws.run(['run', 'a/tiny:v8']), /v8\.json/);
    expectUserError(await ws.run(['run', 'a/tiny:v6']), /corrupt install record at .*v6\.json: it names a\/tiny:latest/);
    // Installing the tag again repairs its record.
    const repaired = await ws.json(['install', 'a/tiny:v2']);
    expect(repaired.reference).toBe('a/tiny:v2');
    expect(JSON.parse(await readFile(join(folder, 'v2.json'), 'utf8'))).toMatchObject({ tag: 'v2', digest: repaired.record.digest });
  });
});

describe('the install picker', () => {
  it('searches as you type, moves with the arrow keys and installs the model picked', async () => {
    const result = await runInPty(
      ['install'],
      [
        { waitFor: 'Install which model', keys: 'tiny' },
        // The list once filtered: the two tiny models and no other (the description follows b/tiny).
        { waitFor: '❯ a/tiny\\n +b/tiny\\n\\n', keys: KEYS.down },
        { waitFor: '❯ b/tiny', keys: KEYS.enter },
      ],
      ws.env,
      ws.dir,
    );
    expect(result.code, result.output).toBe(0);
    expect(result.output).toMatch(/installed b\/tiny:latest/);
    expect((await ws.json(['installed'])).models.map((m: { reference: string }) => m.reference)).toContain('b/tiny:latest');
  });

  it('Ctrl-C leaves it with exit 130 and installs nothing', async () => {
    const before = await listFiles(ws.home);
    const result = await runInPty(['install'], [{ waitFor: 'Install which model', keys: 'so' }, { waitFor: '❯ c/solo\\n\\n', keys: KEYS.ctrlC }], ws.env, ws.dir);
    expect(result.code, result.output).toBe(130);
    expect(await listFiles(ws.home)).toEqual(before);
  });

  it('is not shown when not on a terminal: a missing name is a usage error', async () => {
    const result = await ws.run(['install']);
    expectUserError(result, /aim install needs a model name when not on a terminal/);
    expect(result.code).toBe(2);
  });
});

describe('a link planted in AIM_HOME/installed', () => {
  it('is refused, never followed: nothing is read or written where it points', async () => {
    const outside = ws.path('outside');
    await mkdir(join(outside, 'tiny'), { recursive: true });
    await writeFile(join(outside, 'tiny', 'latest.json'), JSON.stringify({ planted: true }));
    await rm(join(ws.home, 'installed', 'b'), { recursive: true, force: true });
    await symlink(outside, join(ws.home, 'installed', 'b'));

    const listed = await ws.run(['installed', '--json']);
    expect(listed.json().models.map((m: { reference: string }) => m.reference)).not.toContain('b/tiny:latest');
    expect(listed.stderr).toMatch(/skipped .*installed\/b: it is a symlink/);
    expectUserError(await ws.run(['install', 'b/tiny']), /installed\/b is a symlink, not a folder/);
    expectUserError(await ws.run(['run', 'b/tiny']), /installed\/b is a symlink, not a folder/);
    expect(await listFiles(outside)).toEqual(['tiny/latest.json']);
    expect(JSON.parse(await readFile(join(outside, 'tiny', 'latest.json'), 'utf8'))).toEqual({ planted: true });
  });
});
