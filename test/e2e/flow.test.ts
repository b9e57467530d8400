// The whole seed flow through the built CLI, as a user runs it: repositories, push, list, versions, pull (long and
// short forms, by tag and by digest), inspect, verify, info, delete. Assertions are on --json output and on the
// bytes that land on disk.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveFile, generateModel } from '../../fixtures/generate-model.js';
import { CLI_PATH, createWorkspace, expectSameTree, expectUserError, listFiles, type Workspace } from '../helpers/cli.js';

const MiB = 1024 * 1024;
const MODEL_FILES = [
  { path: 'weights.bin', size: 6 * MiB },
  { path: 'config.json', size: 300 },
  { path: 'tokenizer/vocab.txt', size: 10_000 },
];
const TOTAL = MODEL_FILES.reduce((sum, file) => sum + file.size, 0);

describe('seed flow (local repository)', () => {
  let ws: Workspace;
  let v1Digest: string;
  let v2Digest: string;

  beforeAll(async () => {
    ws = await createWorkspace(); // no model_repos.yaml yet: `repo create` writes the file AIM_CONFIG names
    await generateModel(ws.path('v1'), { files: MODEL_FILES, seed: 'flow' });
    await generateModel(ws.path('v2'), { files: MODEL_FILES.slice(1), seed: 'flow' });
    await deriveFile(ws.path('v1', 'weights.bin'), ws.path('v2', 'weights.bin'), [{ kind: 'change', offset: 3 * MiB, length: 4096 }], 'flow-v2');
  });
  afterAll(() => ws.cleanup());

  it('creates, lists and deletes repositories in the config file AIM_CONFIG names', async () => {
    const created = await ws.json(['repo', 'create', 'team', '--type', 'local', '--path', 'store']);
    expect(created).toEqual({ name: 'team', type: 'local', path: ws.path('store'), config: ws.config });
    expect(existsSync(ws.path('store'))).toBe(true);
    await ws.json(['repo', 'create', 'scratch', '--path', ws.path('scratch')]);
    const listed = await ws.json(['repo', 'list']);
    expect(listed.config).toBe(ws.config);
    expect(listed.repositories.map((r: { name: string }) => r.name)).toEqual(['team', 'scratch']);
    expect(await ws.json(['repo', 'delete', 'scratch'])).toEqual({ name: 'scratch', config: ws.config });
    expect((await ws.json(['repo', 'list'])).repositories).toEqual([{ name: 'team', type: 'local', path: ws.path('store') }]);
    expect(existsSync(ws.path('scratch')), 'repo delete leaves the data alone').toBe(true);
    expectUserError(await ws.run(['repo', 'create', 'team', '--path', 'elsewhere']), /repository "team" already exists/);
    expectUserError(await ws.run(['repo', 'delete', 'scratch']), /repository "scratch" is not in/);
  });

  it('finds model_repos.yaml upward from a nested folder and keeps its comments and order on repo create', async () => {
    const project = ws.path('project');
    await mkdir(`${project}/src/deep`, { recursive: true });
    const original = '# shared by the team\nrepositories:\n  # the old share\n  old: {type: local, path: ./old-store} # keep\n';
    await writeFile(`${project}/model_repos.yaml`, original);
    const env = { AIM_CONFIG: '' }; // no AIM_CONFIG: the search from the cwd upward applies
    const cwd = `${project}/src/deep`;
    const listed = await ws.json(['repo', 'list'], { env, cwd });
    expect(listed).toEqual({ config: `${project}/model_repos.yaml`, repositories: [{ name: 'old', type: 'local', path: `${project}/old-store` }] });
    await ws.json(['repo', 'create', 'new', '--path', '../../new-store'], { env, cwd });
    const text = await readFile(`${project}/model_repos.yaml`, 'utf8');
    expect(text.startsWith('# shared by the team\nrepositories:\n  # the old share\n  old: { type: local, path: ./old-store } # keep\n')).toBe(true);
    expect((await ws.json(['repo', 'list'], { env, cwd })).repositories.map((r: { name: string; path: string }) => [r.name, r.path])).toEqual([
      ['old', `${project}/old-store`],
      ['new', `${project}/new-store`],
    ]);
  });

  it('shows version, config, AIM_HOME and repositories with info', async () => {
    const info = await ws.json(['info']);
    expect(info).toMatchObject({ config: ws.config, aimHome: ws.home, repositories: [{ name: 'team', type: 'local', path: ws.path('store') }] });
    expect(info.version).toMatch(/^\d+\.\d+\.\d+/);
    expect((await ws.run(['--version'])).stdout.trim()).toBe(info.version);
  });

  it('pushes a folder as a version with `aim model push`, and lists it', async () => {
    const pushed = await ws.json(['model', 'push', 'team', 'resnet', 'v1', '--tag', 'v1.0', '--description', 'first', '--annotation', 'license=mit']);
    expect(pushed).toMatchObject({ repo: 'team', model: 'resnet', tag: 'v1.0', files: 3, totalBytes: TOTAL, tagOutcome: 'created', skippedSymlinks: [] });
    expect(pushed.digest).toMatch(/^blake3:[0-9a-f]{64}$/);
    expect(pushed.bytesTransferred).toBe(TOTAL);
    expect(pushed.bytesSkipped).toBe(0);
    expect(pushed.chunks).toBeGreaterThanOrEqual(4);
    v1Digest = pushed.digest;

    const models = await ws.json(['model', 'list', 'team']);
    expect(models.models).toHaveLength(1);
    expect(models.models[0]).toMatchObject({ name: 'resnet', versions: 1, tags: expect.arrayContaining(['v1.0', 'latest']) });
    const versions = await ws.json(['model', 'versions', 'team', 'resnet']);
    expect(versions.versions.map((v: { tag: string; digest: string }) => [v.tag, v.digest]).sort()).toEqual([
      ['latest', v1Digest],
      ['v1.0', v1Digest],
    ]);
    expect(versions.versions[0]).toMatchObject({ size: TOTAL, files: 3 });
  });

  it('pulls a version byte for byte with `aim model pull`', async () => {
    const pulled = await ws.json(['model', 'pull', 'team', 'resnet', 'out-v1', '--tag', 'v1.0']);
    expect(pulled).toMatchObject({ digest: v1Digest, dest: ws.path('out-v1'), files: 3, totalBytes: TOTAL, bytesTransferred: TOTAL, filesUnchanged: 0 });
    await expectSameTree(ws.path('out-v1'), ws.path('v1'));
    // Pulling the same version again reads nothing from the repository.
    const again = await ws.json(['model', 'pull', 'team', 'resnet', 'out-v1', '--tag', 'v1.0']);
    expect(again).toMatchObject({ bytesTransferred: 0, filesUnchanged: 3 });
  });

  it('pushes and pulls with the short forms, by tag, by latest and by digest', async () => {
    const pushed = await ws.json(['push', 'team/resnet:v2.0', 'v2']);
    expect(pushed).toMatchObject({ tag: 'v2.0', tagOutcome: 'created', totalBytes: TOTAL });
    expect(pushed.bytesTransferred).toBeLessThan(3 * MiB); // one changed region, small files unchanged
    v2Digest = pushed.digest;
    expect(v2Digest).not.toBe(v1Digest);

    expect(await ws.json(['pull', 'team/resnet', 'out-latest'])).toMatchObject({ tag: 'latest', digest: v2Digest });
    await expectSameTree(ws.path('out-latest'), ws.path('v2'));
    expect(await ws.json(['pull', 'team/resnet:v1.0', 'out-tag'])).toMatchObject({ digest: v1Digest });
    await expectSameTree(ws.path('out-tag'), ws.path('v1'));
    const byDigest = await ws.json(['pull', `team/resnet@${v1Digest}`, 'out-digest']);
    expect(byDigest.digest).toBe(v1Digest);
    await expectSameTree(ws.path('out-digest'), ws.path('v1'));
  });

  it('inspects a version: digest, files, sizes, chunks, annotations', async () => {
    const inspected = await ws.json(['inspect', 'team/resnet:v1.0']);
    expect(inspected).toMatchObject({ repo: 'team', model: 'resnet', tag: 'v1.0', digest: v1Digest, totalBytes: TOTAL });
    expect(inspected.annotations).toEqual({ description: 'first', license: 'mit' });
    expect(inspected.files.map((f: { path: string; size: number }) => [f.path, f.size])).toEqual([
      ['config.json', 300],
      ['tokenizer/vocab.txt', 10_000],
      ['weights.bin', 6 * MiB],
    ]);
    const weights = inspected.files.find((f: { path: string }) => f.path === 'weights.bin');
    expect(weights.chunks).toBeGreaterThanOrEqual(2);
    expect(weights.digest).toMatch(/^blake3:[0-9a-f]{64}$/);
    expect(inspected.manifest.mediaType).toBe('application/vnd.aim.manifest.v1+json');
    // The manifest stored under the digest is the one inspect shows.
    const hex = v1Digest.slice(7);
    const stored = JSON.parse(await readFile(ws.path('store', 'manifests', 'blake3', hex.slice(0, 2), hex), 'utf8'));
    expect(stored).toEqual(inspected.manifest);
    const human = await ws.run(['inspect', `team/resnet@${v1Digest}`]);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain('weights.bin');

    // A reader that stops early (`| head`, here `| true`, gone before aim writes) is not an error: no stack trace.
    const script = `"${process.execPath}" "${CLI_PATH}" inspect team/resnet:v1.0 --json | true; echo "exit \${PIPESTATUS[0]}" >&2`;
    const piped = spawnSync('bash', ['-c', script], { cwd: ws.dir, env: { ...process.env, ...ws.env }, encoding: 'utf8' });
    expect(piped.stderr.trim()).toBe('exit 0');
  });

  it('verifies the whole repository, one version, and a sample', async () => {
    const all = await ws.json(['verify', 'team']);
    expect(all).toMatchObject({ repo: 'team', ok: true, problems: [], versions: 2, tags: 3 }); // latest names v2.0's version
    expect(all.chunksChecked).toBe(all.chunks);
    expect(all.chunks).toBeGreaterThan(5);
    const one = await ws.json(['verify', 'team', 'resnet:v1.0']);
    expect(one).toMatchObject({ ok: true, versions: 1 });
    expect(one.chunks).toBeLessThan(all.chunks);
    expect(one.bytesChecked).toBe(TOTAL);
    // A 1% sample of a dozen chunks checks fewer than all of them (all would be a 1e-24 chance).
    const sample = await ws.json(['verify', 'team', '--sample', '1']);
    expect(sample).toMatchObject({ ok: true, chunks: all.chunks });
    expect(sample.chunksChecked).toBeLessThan(all.chunks);
    expect((await ws.json(['verify', 'team', '--sample', '100'])).chunksChecked).toBe(all.chunks);
    expectUserError(await ws.run(['verify', 'team', '--sample', '0']), /--sample 0 is not a percentage/);
  });

  it('deletes one version, then the model, keeping data other versions need', async () => {
    const deleted = await ws.json(['model', 'delete-version', 'team', 'resnet', '--tag', 'v1.0']);
    expect(deleted).toMatchObject({ repo: 'team', model: 'resnet' });
    const tags = (await ws.json(['model', 'versions', 'team', 'resnet'])).versions.map((v: { tag: string }) => v.tag);
    expect(tags).not.toContain('v1.0');
    expect(tags).toContain('v2.0');
    expectUserError(await ws.run(['pull', 'team/resnet:v1.0', 'gone']), /tag v1\.0 of team\/resnet not found/);
    // v2 still pulls and verifies: deleting v1 removed no chunk it uses.
    expect((await ws.json(['verify', 'team'])).ok).toBe(true);
    expect(await ws.json(['pull', 'team/resnet:v2.0', 'after-delete'])).toMatchObject({ digest: v2Digest });
    await expectSameTree(ws.path('after-delete'), ws.path('v2'));

    await ws.json(['model', 'delete', 'team', 'resnet']);
    expect((await ws.json(['model', 'list', 'team'])).models).toEqual([]);
    expectUserError(await ws.run(['model', 'versions', 'team', 'resnet']), /model resnet not found in repository team/);
  });

  it('keeps pull bookkeeping in DEST/.aim and nothing else beside the files', async () => {
    expect(await listFiles(ws.path('out-v1'))).toEqual(['config.json', 'tokenizer/vocab.txt', 'weights.bin']);
    const aim = await listFiles(ws.path('out-v1'), { includeAim: true });
    expect(aim.filter((path) => path.startsWith('.aim/')).every((path) => !path.startsWith('.aim/partial/'))).toBe(true);
    expect((await stat(ws.path('out-v1', 'weights.bin'))).size).toBe(6 * MiB);
  });
});
