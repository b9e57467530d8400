// `aim import` of layouts other tools write, built here as those tools lay them out: a Docker Model Runner model
// (raw GGUF and license layers, no file names), a KitOps ModelKit (tar layers, one gzipped, the Kitfile as config),
// a ModelPack tar whose blobs come before its manifest, on standard input. Then the hostile ones: each is one plain
// error with its exit code, within time and memory bounds, nothing pushed under the tag, nothing written outside
// the repository, and AIM_HOME's work folder removed.
import { spawnSync } from 'node:child_process';
import { readdir, readFile, rm, statfs, symlink, writeFile } from 'node:fs/promises';
import tar from 'tar-stream';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTinyGguf } from '../../fixtures/tiny-gguf.js';
import { CLI_PATH, createWorkspace, expectUserError, listFiles, type Workspace } from '../helpers/cli.js';
import { expectUnchanged, runBounded, snapshot } from '../hostile/harness.js';
import { buildLayout, sha256, tarBytes, writeLayoutFolder, withTypeFlag, writeLayoutTar, writeTar, type LayerSpec, type LayoutSpec } from './oci-layouts.js';

const MODELPACK_CONFIG = 'application/vnd.cncf.model.config.v1+json';
const RAW_DOC = 'application/vnd.cncf.model.doc.v1.raw';
const docLayer = (path: string, text: string): LayerSpec => ({ mediaType: RAW_DOC, bytes: Buffer.from(text), annotations: { 'org.cncf.model.filepath': path } });
const modelpack = (layers: LayerSpec[], extra: Partial<LayoutSpec> = {}): LayoutSpec => ({
  configType: MODELPACK_CONFIG,
  config: { descriptor: { name: 'm' }, config: {}, modelfs: { type: 'layers', diffIds: layers.map((layer) => sha256(layer.bytes)) } },
  layers,
  artifactType: 'application/vnd.cncf.model.manifest.v1+json',
  ...extra,
});

describe('aim import: models other tools made', () => {
  let ws: Workspace;
  let gguf: Buffer;

  beforeAll(async () => {
    ws = await createWorkspace((dir) => ({ r: { type: 'local', path: join(dir, 'repo') } }));
    await writeTinyGguf(ws.path('tiny.gguf'), { quant: 'q8_0', seed: 3 });
    gguf = await readFile(ws.path('tiny.gguf'));
  });
  afterAll(() => ws?.cleanup());

  it('reads a Docker Model Runner model: the GGUF and license layers become model.gguf and LICENSE.txt', async () => {
    const license = Buffer.from('MIT License\n');
    const layout = buildLayout({
      configType: 'application/vnd.docker.ai.model.config.v0.1+json',
      config: { config: { format: 'gguf', quantization: 'Q8_0', parameters: '120.64 K', architecture: 'llama', size: String(gguf.length) }, descriptor: { created: '2025-01-01T00:00:00Z' }, rootfs: { type: 'layers', diff_ids: [sha256(gguf), sha256(license)] } },
      layers: [{ mediaType: 'application/vnd.docker.ai.gguf.v3', bytes: gguf }, { mediaType: 'application/vnd.docker.ai.license', bytes: license }],
    });
    await writeLayoutFolder(ws.path('docker-layout'), layout);
    const imported = await ws.json(['import', 'docker-layout', 'r/docker:q8']);
    expect(imported).toMatchObject({ flavour: 'docker', ociDigest: layout.manifestDigest, layers: 2, files: 2 });
    await ws.json(['pull', 'r/docker:q8', 'docker-pulled']);
    expect(await listFiles(ws.path('docker-pulled'))).toEqual(['LICENSE.txt', 'model.gguf']);
    expect(await readFile(ws.path('docker-pulled', 'model.gguf'))).toEqual(gguf);
    const inspected = await ws.json(['inspect', 'r/docker:q8']);
    expect(inspected.annotations).toMatchObject({ 'oci.artifact': 'docker', 'oci.manifest': layout.manifestDigest, 'gguf.quantization': 'Q8_0' });
  });

  it('reads a KitOps ModelKit: tar layers (one gzipped) unpacked, the Kitfile kept', async () => {
    const readme = Buffer.from('# kit\n');
    const kitfile = { manifestVersion: '1.0.0', package: { name: 'kit' }, model: { path: 'models/tiny.gguf' }, docs: [{ path: 'README.md' }] };
    const layout = buildLayout({
      configType: 'application/vnd.kitops.modelkit.config.v1+json',
      config: kitfile,
      layers: [
        { mediaType: 'application/vnd.kitops.modelkit.model.v1.tar', bytes: await tarBytes([{ name: 'models/tiny.gguf', bytes: gguf }]) },
        { mediaType: 'application/vnd.kitops.modelkit.docs.v1.tar+gzip', bytes: await tarBytes([{ name: 'README.md', bytes: readme }], true) },
      ],
    });
    await writeLayoutTar(ws.path('kit.tar'), layout);
    expect(await ws.json(['import', 'kit.tar', 'r/kit:v1'])).toMatchObject({ flavour: 'kitops', files: 3 });
    // A tar given by a link (a download kept under another name) is the user's choice: read through it.
    await symlink(ws.path('kit.tar'), ws.path('kit-link.tar'));
    expect(await ws.json(['import', 'kit-link.tar', 'r/kit:v1-linked'])).toMatchObject({ flavour: 'kitops', files: 3 });
    await ws.json(['pull', 'r/kit:v1', 'kit-pulled']);
    expect(await listFiles(ws.path('kit-pulled'))).toEqual(['Kitfile', 'README.md', 'models/tiny.gguf']);
    expect(await readFile(ws.path('kit-pulled', 'models/tiny.gguf'))).toEqual(gguf);
    expect(JSON.parse(await readFile(ws.path('kit-pulled', 'Kitfile'), 'utf8'))).toEqual(kitfile);
  });

  it('reads a tar on standard input whose blobs come before its index and manifest', async () => {
    const layout = buildLayout(modelpack([docLayer('docs/a.md', 'a'), { mediaType: 'application/vnd.cncf.model.weight.v1.raw', bytes: gguf, annotations: { 'org.cncf.model.filepath': 'w/tiny.gguf' } }]));
    await writeLayoutTar(ws.path('late-index.tar'), layout, 'blobs-first');
    const result = spawnSync(process.execPath, [CLI_PATH, 'import', '-', 'r/late:v1', '--json'], { cwd: ws.dir, env: { ...process.env, ...ws.env }, input: await readFile(ws.path('late-index.tar')) });
    expect(result.status, result.stderr.toString()).toBe(0);
    expect(JSON.parse(result.stdout.toString())).toMatchObject({ flavour: 'modelpack', files: 2, source: 'standard input' });
    expect(await readdir(ws.path('aim-home', 'tmp'))).toEqual([]);
  });
});

describe('aim import: hostile layouts are refused, nothing pushed, nothing written outside', () => {
  let ws: Workspace;
  beforeAll(async () => {
    ws = await createWorkspace((dir) => ({ r: { type: 'local', path: join(dir, 'repo') } }));
  });
  afterAll(() => ws?.cleanup());

  type Case = { name: string; code: number; message: RegExp; make: (at: string) => Promise<void> };
  const folder = (spec: LayoutSpec) => (at: string) => writeLayoutFolder(at, buildLayout(spec));
  const tarred = (spec: LayoutSpec) => (at: string) => writeLayoutTar(at, buildLayout(spec));
  const kitops = (layerEntries: Parameters<typeof tarBytes>[0]) => async (at: string) =>
    writeLayoutFolder(at, buildLayout({ configType: 'application/vnd.kitops.modelkit.config.v1+json', config: {}, layers: [{ mediaType: 'application/vnd.kitops.modelkit.code.v1.tar', bytes: await tarBytes(layerEntries) }] }));

  /** Docker layers naming one blob, each a file of its own (model.gguf, model-2.gguf, ...): together a little more than the disk has free. */
  // Twice the free space: other processes on the machine change it between this look and the import's, and a claim
  // that fell below it would start copying.
  const copiesPastFreeSpace = async (): Promise<LayerSpec[]> => {
    const { bavail, bsize } = await statfs(ws.dir);
    const copies = 20_000;
    const bytes = Buffer.alloc(Math.ceil((2 * bavail * bsize) / copies), 1);
    return Array.from({ length: copies }, () => ({ mediaType: 'application/vnd.docker.ai.gguf.v3', bytes }));
  };

  const cases: Case[] = [
    { name: 'a filepath climbing out with ..', code: 4, message: /"\.\.\/escaped\.txt".*"\.\." segment/, make: folder(modelpack([docLayer('../escaped.txt', 'x')])) },
    { name: 'an absolute filepath', code: 4, message: /is absolute/, make: folder(modelpack([docLayer('/tmp/aim-oci-absolute.txt', 'x')])) },
    { name: 'a layer tar entry climbing out', code: 4, message: /"\.\.\/\.\.\/escaped\.txt"/, make: kitops([{ name: '../../escaped.txt', bytes: Buffer.from('x') }]) },
    { name: 'a hard link inside a layer tar', code: 4, message: /hard link/, make: kitops([{ name: 'a.txt', bytes: Buffer.from('x') }, { name: 'b.txt', type: 'link', linkname: '/etc/passwd' }]) },
    { name: 'a symlink inside a layer tar', code: 4, message: /symlink/, make: kitops([{ name: 'a.txt', type: 'symlink', linkname: '../../escaped.txt' }]) },
    { name: 'a symlink entry in the layout tar', code: 4, message: /symbolic link/, make: (at) => writeTar(at, [{ name: 'oci-layout', bytes: Buffer.from('{"imageLayoutVersion":"1.0.0"}') }, { name: 'index.json', type: 'symlink', linkname: '/etc/passwd' }]) },
    { name: 'a 5 MiB index.json', code: 4, message: /index\.json.*more than/, make: (at) => writeTar(at, [{ name: 'oci-layout', bytes: Buffer.from('{"imageLayoutVersion":"1.0.0"}') }, { name: 'index.json', bytes: Buffer.alloc(5 << 20, 0x20) }]) },
    { name: 'a missing layer blob', code: 4, message: /has no blob sha256:/, make: async (at) => {
      const layout = buildLayout(modelpack([docLayer('a.md', 'missing')]));
      await writeLayoutFolder(at, { ...layout, files: layout.files.filter(([name, bytes]) => !name.startsWith('blobs/') || sha256(bytes) !== sha256('missing')) });
    } },
    // A tar's blobs are unpacked and checked first, then a raw layer becomes its file by a link to its blob: that
    // link must still find the blob, and hold the descriptor to the blob's size, as a folder's read does.
    { name: 'a missing layer blob (tar)', code: 4, message: /has no blob sha256:/, make: async (at) => {
      const layout = buildLayout(modelpack([docLayer('a.md', 'missing')]));
      await writeLayoutTar(at, { ...layout, files: layout.files.filter(([name, bytes]) => !name.startsWith('blobs/') || sha256(bytes) !== sha256('missing')) });
    } },
    { name: 'a layer descriptor smaller than its blob (tar)', code: 4, message: /is 5 bytes, its descriptor says 1/, make: tarred(modelpack([{ ...docLayer('a.md', 'hello'), size: 1 }])) },
    { name: 'a layer descriptor bigger than its blob (tar)', code: 4, message: /is 5 bytes, its descriptor says 9007199254740991/, make: tarred(modelpack([{ ...docLayer('a.md', 'hello'), size: Number.MAX_SAFE_INTEGER }])) },
    // A GNU sparse file (type S) holds its map of holes before its data: written as a file, it would be other bytes.
    { name: 'a layer tar entry of a type aim does not know', code: 4, message: /holds "sparse\.bin", an entry of a type aim does not know/, make: async (at) => {
      const layer = withTypeFlag(await tarBytes([{ name: 'sparse.bin', bytes: Buffer.from('map and data') }]), 'S');
      await writeLayoutFolder(at, buildLayout({ configType: 'application/vnd.kitops.modelkit.config.v1+json', config: {}, layers: [{ mediaType: 'application/vnd.kitops.modelkit.model.v1.tar', bytes: layer }] }));
    } },
    { name: 'a layer tar holding a file, then a folder of the same name', code: 4, message: /names "a" both as a file and as a folder/, make: kitops([{ name: 'a', bytes: Buffer.from('x') }, { name: 'a/', type: 'directory' }]) },
    { name: 'a layer whose bytes do not match its digest (folder)', code: 4, message: /does not hash to its digest/, make: folder(modelpack([docLayer('a.md', 'good')], { tamper: (blobs) => blobs.set(sha256('good'), Buffer.from('evil')) })) },
    { name: 'a layer whose bytes do not match its digest (tar)', code: 4, message: /hash to sha256:/, make: tarred(modelpack([docLayer('a.md', 'good')], { tamper: (blobs) => blobs.set(sha256('good'), Buffer.from('evil')) })) },
    { name: 'an unknown layer media type', code: 2, message: /media type "application\/x-unknown"/, make: folder(modelpack([{ mediaType: 'application/x-unknown', bytes: Buffer.from('x'), annotations: { 'org.cncf.model.filepath': 'x' } }])) },
    { name: 'a zstd layer', code: 2, message: /zstd/, make: folder(modelpack([{ mediaType: 'application/vnd.cncf.model.weight.v1.tar+zstd', bytes: Buffer.from('x') }])) },
    { name: 'a container image, not a model', code: 2, message: /not a model aim knows/, make: folder({ configType: 'application/vnd.oci.image.config.v1+json', config: {}, layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', bytes: Buffer.from('x') }] }) },
    { name: 'two layers naming one file', code: 4, message: /names the file "a\.md" twice/, make: folder(modelpack([docLayer('a.md', 'one'), docLayer('a.md', 'two')])) },
    { name: 'a tar cut short', code: 4, message: /not a readable tar|hash to/, make: async (at) => {
      await writeLayoutTar(at, buildLayout(modelpack([docLayer('a.md', 'x'.repeat(100_000))])));
      const bytes = await readFile(at);
      await writeFile(at, bytes.subarray(0, bytes.length - 60_000));
    } },
    { name: 'a gzip layer that is not gzip', code: 4, message: /layer sha256:.* is not a readable tar/, make: folder({ configType: 'application/vnd.kitops.modelkit.config.v1+json', config: {}, layers: [{ mediaType: 'application/vnd.kitops.modelkit.model.v1.tar+gzip', bytes: Buffer.from('not gzip at all') }] }) },
    { name: 'a layer blob that is a symlink (folder)', code: 6, message: /is a symlink, not a regular file/, make: async (at) => {
      await writeLayoutFolder(at, buildLayout(modelpack([docLayer('a.md', 'linked')])));
      const blob = join(at, 'blobs', 'sha256', sha256('linked').slice(7));
      await rm(blob);
      await writeFile(join(at, 'outside.txt'), 'linked');
      await symlink(join(at, 'outside.txt'), blob);
    } },
    { name: 'an index.json that is a FIFO (folder)', code: 6, message: /is a FIFO/, make: async (at) => {
      await writeLayoutFolder(at, buildLayout(modelpack([docLayer('a.md', 'x')])));
      await rm(join(at, 'index.json'));
      expect(spawnSync('mkfifo', [join(at, 'index.json')]).status).toBe(0);
    } },
    { name: 'a layout tar holding index.json twice', code: 4, message: /tar entry "index\.json" appears twice/, make: async (at) => {
      const layout = buildLayout(modelpack([docLayer('a.md', 'x')]));
      const index = layout.files.find(([name]) => name === 'index.json')![1];
      await writeTar(at, [...layout.files.map(([name, bytes]) => ({ name, bytes })), { name: 'index.json', bytes: index }]);
    } },
    { name: 'an index.json naming 10,000 image manifests (tar)', code: 2, message: /holds 10000 image manifests \("name-0", "name-1", "name-2", "name-3", "name-4", and 9995 more\); aim imports one$/, make: async (at) => {
      const manifests = Array.from({ length: 10_000 }, (_, i) => ({
        mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256(String(i)), size: 1, annotations: { 'org.opencontainers.image.ref.name': `name-${i}` },
      }));
      await writeTar(at, [{ name: 'oci-layout', bytes: Buffer.from('{"imageLayoutVersion":"1.0.0"}') }, { name: 'index.json', bytes: Buffer.from(JSON.stringify({ schemaVersion: 2, manifests })) }]);
    } },
    // A compression bomb's shape: a small layer whose entry says (in a pax header) it unpacks to a petabyte.
    { name: 'a layer tar entry claiming more bytes than the disk has free', code: 6, message: /unpacks to more than the \d+ bytes free in/, make: async (at) => {
      const pack = tar.pack();
      pack.entry({ name: 'weights.bin', size: 5, pax: { size: String(2 ** 50) } }, Buffer.from('hello'));
      pack.finalize();
      const parts: Buffer[] = [];
      for await (const part of pack as AsyncIterable<Buffer>) parts.push(part);
      await writeLayoutFolder(at, buildLayout({ configType: 'application/vnd.kitops.modelkit.config.v1+json', config: {}, layers: [{ mediaType: 'application/vnd.kitops.modelkit.model.v1.tar', bytes: Buffer.concat(parts) }] }));
    } },
    // The other shape: entries that claim nothing, then a GiB of zeros (end blocks) from 1 MiB of gzip, which no entry
    // accounts for and which cost a second of CPU per 100 MiB to read through.
    { name: 'a gzip layer unpacking to a GiB past its entries', code: 4, message: /layer sha256:.* unpacks to more than its entries hold/, make: async (at) => {
      const zeros = gzipSync(Buffer.alloc(16 << 20));
      const bytes = Buffer.concat([gzipSync(await tarBytes([{ name: 'a.txt', bytes: Buffer.from('x') }])), ...Array.from({ length: 64 }, () => zeros)]);
      await writeLayoutFolder(at, buildLayout({ configType: 'application/vnd.kitops.modelkit.config.v1+json', config: {}, layers: [{ mediaType: 'application/vnd.kitops.modelkit.model.v1.tar+gzip', bytes }] }));
    } },
    // Layers are free to name one blob many times, and each name is a file of its own: a small layout can ask for
    // more than the disk holds, which must be refused before the first copy, not once the disk is full.
    { name: 'layers naming one blob more times than the disk has room for (folder)', code: 6, message: /more than the \d+ bytes free in/, make: async (at) => {
      await writeLayoutFolder(at, buildLayout({ configType: 'application/vnd.docker.ai.model.config.v0.1+json', config: {}, layers: await copiesPastFreeSpace() }));
    } },
    { name: 'layers naming one blob more times than the disk has room for (tar)', code: 6, message: /more than the \d+ bytes free in/, make: async (at) => {
      await writeLayoutTar(at, buildLayout({ configType: 'application/vnd.docker.ai.model.config.v0.1+json', config: {}, layers: await copiesPastFreeSpace() }));
    } },
    // A 1,000-byte path may be 480 folders deep: 2,200 entries, each in folders of its own, would be a million folders.
    { name: 'a layer tar whose entries are each 480 new folders deep', code: 4, message: /makes \d+ folders for \d+ entries, more than a model needs/, make: kitops(
      Array.from({ length: 2200 }, (_, i) => ({ name: `d${i}/${'a/'.repeat(480)}f`, bytes: Buffer.alloc(0) })),
    ) },
    { name: 'no oci-layout file', code: 4, message: /no oci-layout file/, make: (at) => writeTar(at, [{ name: 'index.json', bytes: Buffer.from('{}') }]) },
  ];

  for (const [i, testCase] of cases.entries()) {
    it(`refuses ${testCase.name}`, async () => {
      const input = ws.path(`case-${i}${testCase.name.includes('tar') && !testCase.name.includes('layer tar') ? '.tar' : ''}`);
      await testCase.make(input);
      const before = await snapshot(ws.dir, ['repo', 'aim-home']);
      const result = await runBounded(ws, ['import', input, `r/m:case${i}`]);
      expectUserError(result, testCase.message);
      expect(result.code).toBe(testCase.code);
      await expectUnchanged(ws.dir, before, ['repo', 'aim-home']);
      expect((await ws.run(['inspect', `r/m:case${i}`])).code).toBe(3);
      expect(await readdir(ws.path('aim-home', 'tmp'))).toEqual([]);
    });
  }
});
