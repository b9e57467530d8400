// `aim export` through the built CLI and read back by skopeo (Debian's package; CI installs it in .ci/run and this
// file fails, never skips, without it): the tar is a valid OCI image layout holding a CNCF ModelPack artifact whose
// manifest and config pass the vendored schemas; skopeo copies every blob with its digest checked; the copied
// layout imports back to the very version exported, which re-exports to the same layers.
import { spawnSync } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { chmod, copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateModel } from '../../fixtures/generate-model.js';
import { writeTinyGguf } from '../../fixtures/tiny-gguf.js';
import { CLI_PATH, createWorkspace, expectSameTree, expectUserError, sha256File, signalWhen, type Workspace } from '../helpers/cli.js';
import { runBounded } from '../hostile/harness.js';
import { schemaCheckers } from './oci-contracts.js';
import { sha256 } from './oci-layouts.js';

const RSS_PRELOAD = fileURLToPath(new URL('../hostile/rss-preload.mjs', import.meta.url));

function skopeo(args: string[], cwd: string): { stdout: string; stderr: string; status: number | null } {
  const result = spawnSync('skopeo', args, { cwd, encoding: 'utf8' });
  return { stdout: result.stdout ?? '', stderr: `${result.stderr ?? ''}${result.error ? String(result.error) : ''}`, status: result.status };
}

const LAYER_TYPES: Record<string, string> = {
  'tiny-llama-q8_0.gguf': 'application/vnd.cncf.model.weight.v1.raw',
  'README.md': 'application/vnd.cncf.model.doc.v1.raw',
  'docs/README-copy.md': 'application/vnd.cncf.model.doc.v1.raw',
  'tok/tokenizer.json': 'application/vnd.cncf.model.weight.config.v1.raw',
  'run.py': 'application/vnd.cncf.model.code.v1.raw',
  'weights/extra.safetensors': 'application/vnd.cncf.model.weight.v1.raw',
};

describe('aim export: a ModelPack artifact in an OCI image layout', () => {
  let ws: Workspace;
  let pushed: { digest: string };

  beforeAll(async () => {
    const version = skopeo(['--version'], '/');
    expect(version.status, `skopeo must be installed (apt-get install -y skopeo): ${version.stderr}`).toBe(0);
    ws = await createWorkspace((dir) => ({ a: { type: 'local', path: join(dir, 'repo-a') }, b: { type: 'local', path: join(dir, 'repo-b') } }));
    const model = ws.path('model');
    await writeTinyGguf(join(model, 'tiny-llama-q8_0.gguf'), { quant: 'q8_0', seed: 7 });
    await generateModel(model, { files: [{ path: 'weights/extra.safetensors', size: 3 * 1024 * 1024 }], seed: 'oci' });
    await mkdir(join(model, 'tok'), { recursive: true });
    await mkdir(join(model, 'docs'), { recursive: true });
    await writeFile(join(model, 'README.md'), '# tiny\n');
    await copyFile(join(model, 'README.md'), join(model, 'docs/README-copy.md')); // same bytes: one blob, two layers
    await writeFile(join(model, 'tok/tokenizer.json'), '{"model":{"type":"BPE"}}\n');
    await writeFile(join(model, 'run.py'), 'print("hi")\n');
    await chmod(join(model, 'run.py'), 0o755);
    pushed = await ws.json(['push', 'a/tiny:v1', model, '--annotation', 'license=Apache-2.0', '--description', 'a tiny test model']);
  });
  afterAll(() => ws?.cleanup());

  it('writes a tar that skopeo reads, whose manifest and config pass the OCI and ModelPack schemas', async () => {
    const exported = await ws.json(['export', 'a/tiny:v1', '-o', 'tiny.tar']);
    expect(exported.digest).toBe(pushed.digest);
    const raw = skopeo(['inspect', '--raw', 'oci-archive:tiny.tar'], ws.dir);
    expect(raw.status, raw.stderr).toBe(0);
    expect(sha256(raw.stdout)).toBe(exported.manifestDigest);
    const manifest = JSON.parse(raw.stdout);
    const check = await schemaCheckers();
    expect(check.manifest(manifest)).toEqual([]);
    // ModelPack's rules on top of the OCI manifest (docs/spec.md).
    expect(manifest.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    expect(manifest.artifactType).toBe('application/vnd.cncf.model.manifest.v1+json');
    expect(manifest.config.mediaType).toBe('application/vnd.cncf.model.config.v1+json');
    const byPath = Object.fromEntries(manifest.layers.map((layer: any) => [layer.annotations['org.cncf.model.filepath'], layer]));
    expect(Object.fromEntries(Object.entries(byPath).map(([path, layer]: [string, any]) => [path, layer.mediaType]))).toEqual(LAYER_TYPES);
    for (const [path, layer] of Object.entries(byPath) as Array<[string, any]>) {
      expect(layer.digest).toBe(`sha256:${await sha256File(ws.path('model', path))}`);
      expect(JSON.parse(layer.annotations['org.cncf.model.file.metadata+json']).mode).toBe(path === 'run.py' ? 0o755 : 0o644);
    }
    expect(manifest.annotations['ai.aim.version.digest']).toBe(pushed.digest);

    const configText = skopeo(['inspect', '--config', '--raw', 'oci-archive:tiny.tar'], ws.dir);
    expect(configText.status, configText.stderr).toBe(0);
    const config = JSON.parse(configText.stdout);
    expect(check.config(config)).toEqual([]);
    expect(config.descriptor).toEqual({ family: 'llama', name: 'tiny', version: 'v1', description: 'a tiny test model', licenses: ['Apache-2.0'] });
    expect(config.config).toMatchObject({ format: 'gguf', quantization: 'Q8_0' });
    expect(config.config.paramSize).toMatch(/^\d+(\.\d)?[KMBTQ]$/);
    expect(config.modelfs).toEqual({ type: 'layers', diffIds: manifest.layers.map((layer: any) => layer.digest) });

    // The checker itself refuses what breaks the schemas, so the empty lists above mean something.
    expect(check.config({ ...config, modelfs: { type: 'layers', diffIds: [] } })).not.toEqual([]);
    expect(check.manifest({ ...manifest, layers: [{ mediaType: 'x', size: -1 }] })).not.toEqual([]);
  });

  it('is copied by skopeo with every blob checked, imports back to the same version, and re-exports to the same layers', async () => {
    const first = await ws.json(['export', 'a/tiny:v1', '-o', 'first.tar']);
    const copy = skopeo(['copy', 'oci-archive:first.tar', 'oci:copied'], ws.dir);
    expect(copy.status, copy.stderr).toBe(0);
    const blobs = await readdir(ws.path('copied', 'blobs', 'sha256'));
    for (const layer of first.layers) expect(blobs).toContain(layer.digest.slice('sha256:'.length));
    for (const blob of blobs) expect(await sha256File(ws.path('copied', 'blobs', 'sha256', blob))).toBe(blob);

    const imported = await ws.json(['import', 'copied', 'b/tiny:v1']);
    expect(imported).toMatchObject({ flavour: 'modelpack', ociDigest: first.manifestDigest, sameVersion: true, digest: pushed.digest, tagOutcome: 'created' });
    const again = await ws.json(['export', 'b/tiny:v1', '-o', 'again.tar']);
    expect(again.layers).toEqual(first.layers);
    expect(again.manifestDigest).toBe(first.manifestDigest);
    await ws.json(['pull', 'b/tiny:v1', 'pulled']);
    await expectSameTree(ws.path('pulled'), ws.path('model'));
  });

  it('writes a layout folder with --layout dir: the same artifact, read by skopeo, imported back', async () => {
    const tarred = await ws.json(['export', 'a/tiny:v1', '-o', 'for-dir.tar']);
    const folder = await ws.json(['export', 'a/tiny:v1', '-o', 'layout-dir', '--layout', 'dir']);
    expect(folder.manifestDigest).toBe(tarred.manifestDigest);
    const blobs = await readdir(ws.path('layout-dir', 'blobs', 'sha256'));
    expect(blobs.length).toBe(new Set(tarred.layers.map((layer: { digest: string }) => layer.digest)).size + 2);
    for (const blob of blobs) expect(await sha256File(ws.path('layout-dir', 'blobs', 'sha256', blob))).toBe(blob);
    const raw = skopeo(['inspect', '--raw', 'oci:layout-dir'], ws.dir);
    expect(raw.status, raw.stderr).toBe(0);
    expect(sha256(raw.stdout)).toBe(tarred.manifestDigest);
    const copy = skopeo(['copy', 'oci:layout-dir', 'oci-archive:from-dir.tar'], ws.dir);
    expect(copy.status, copy.stderr).toBe(0);
    expect(await ws.json(['import', 'layout-dir', 'b/tiny:from-dir'])).toMatchObject({ digest: pushed.digest, sameVersion: true });
    expectUserError(await ws.run(['export', 'a/tiny:v1', '-o', 'layout-dir', '--layout', 'dir']), /layout-dir already exists/);
    expect((await readdir(ws.dir)).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  it('writes the same bytes to standard output, every time, and imports from standard input', async () => {
    const run = (args: string[], input?: Buffer) => spawnSync(process.execPath, [CLI_PATH, ...args], { cwd: ws.dir, env: { ...process.env, ...ws.env }, input, maxBuffer: 1 << 30 });
    const streamed = run(['export', 'a/tiny:v1', '-o', '-', '-q']);
    expect(streamed.status, streamed.stderr.toString()).toBe(0);
    await ws.json(['export', 'a/tiny:v1', '-o', 'file.tar']);
    expect(sha256(streamed.stdout)).toBe(`sha256:${await sha256File(ws.path('file.tar'))}`);
    const imported = run(['import', '-', 'b/tiny:from-stdin', '--json'], streamed.stdout);
    expect(imported.status, imported.stderr.toString()).toBe(0);
    expect(JSON.parse(imported.stdout.toString())).toMatchObject({ source: 'standard input', digest: pushed.digest, sameVersion: true, bytesTransferred: 0 });
    expectUserError(await ws.run(['export', 'a/tiny:v1', '-o', '-', '--json']), /--json and -o - both want standard output/);
    await mkdir(ws.path('a-folder'));
    const intoFolder = await ws.run(['export', 'a/tiny:v1', '-o', 'a-folder']);
    expect([expectUserError(intoFolder, /a-folder is a folder/), intoFolder.code]).toEqual([expect.any(String), 2]);
    const nowhere = await ws.run(['export', 'a/tiny:v1', '-o', 'missing/x.tar']);
    expect([expectUserError(nowhere, /folder missing does not exist/), nowhere.code]).toEqual([expect.any(String), 3]);
    expect((await readdir(ws.dir)).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  it('holds memory flat whatever the size of a layer, to a file and to standard output, and leaves nothing on Ctrl-C', async () => {
    const big = await createWorkspace((dir) => ({ a: { type: 'local', path: join(dir, 'repo') } }));
    try {
      await generateModel(big.path('model'), { files: [{ path: 'model.safetensors', size: 256 * 1024 * 1024 }], seed: 'big' });
      await big.json(['push', 'a/big:v1', big.path('model')]);
      // Holding the layer would take 256 MiB on top of the ~100 MiB an export starts with.
      const toFile = await runBounded(big, ['export', 'a/big:v1', '-o', 'big.tar', '-q'], { timeoutMs: 120_000, maxRssMiB: 200 });
      expect(toFile.code, toFile.stderr).toBe(0);
      // To standard output, into a file rather than this process's memory, with the harness's RSS probe.
      const out = openSync(big.path('streamed.tar'), 'w');
      const rssFile = big.path('rss');
      const streamed = spawnSync(process.execPath, [CLI_PATH, 'export', 'a/big:v1', '-o', '-', '-q'], {
        cwd: big.dir,
        env: { ...process.env, ...big.env, NODE_OPTIONS: `--import=${RSS_PRELOAD}`, AIM_TEST_RSS_FILE: rssFile },
        stdio: ['ignore', out, 'pipe'],
        timeout: 120_000,
      });
      closeSync(out);
      expect(streamed.status, streamed.stderr?.toString()).toBe(0);
      expect(Number(await readFile(rssFile, 'utf8')) / 1024).toBeLessThan(200);
      expect(await sha256File(big.path('streamed.tar'))).toBe(await sha256File(big.path('big.tar')));

      // Ctrl-C midway: no half tar under any name, no work folder left in AIM_HOME/tmp, no tag.
      const partial = async () => (await readdir(big.dir)).some((name) => name.startsWith('.stopped.tar.'));
      expect((await signalWhen(big.start(['export', 'a/big:v1', '-o', 'stopped.tar']), partial, 'SIGINT')).signal).toBe('SIGINT');
      expect((await readdir(big.dir)).filter((name) => name.includes('stopped'))).toEqual([]);
      const working = async () => (await readdir(big.path('aim-home', 'tmp')).catch(() => [])).length > 0;
      expect((await signalWhen(big.start(['import', 'big.tar', 'a/big:imported']), working, 'SIGINT')).signal).toBe('SIGINT');
      expect(await readdir(big.path('aim-home', 'tmp'))).toEqual([]);
      expect((await big.run(['inspect', 'a/big:imported'])).code).toBe(3);
    } finally {
      await big.cleanup();
    }
  });

  it('refuses a repository whose chunk was changed, leaving no tar behind', async () => {
    const damaged = await createWorkspace((dir) => ({ a: { type: 'local', path: join(dir, 'repo') } }));
    try {
      await generateModel(damaged.path('model'), { files: [{ path: 'weights.bin', size: 2 * 1024 * 1024 }], seed: 'damage' });
      await damaged.json(['push', 'a/m:v1', damaged.path('model')]);
      const packs = await readdir(damaged.path('repo', 'packs'), { recursive: true, withFileTypes: true });
      const pack = packs.find((entry) => entry.isFile())!;
      const path = join(pack.parentPath, pack.name);
      const bytes = await readFile(path);
      bytes[1000] ^= 0xff;
      await writeFile(path, bytes);
      const result = await runBounded(damaged, ['export', 'a/m:v1', '-o', 'out.tar']);
      expect(expectUserError(result, /corrupt/)).toContain('blake3:');
      expect(result.code).toBe(4);
      expect((await readdir(damaged.dir)).filter((name) => name.includes('out.tar'))).toEqual([]);
      const streamed = await runBounded(damaged, ['export', 'a/m:v1', '-o', '-']);
      expectUserError(streamed, /corrupt/);
      expect(streamed.code).toBe(4);
    } finally {
      await damaged.cleanup();
    }
  });
});
