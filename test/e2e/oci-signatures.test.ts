// A signed version's signatures travel through OCI with the built CLI: `aim export` carries them as a model.sig layer
// and as OCI 1.1 referrers; skopeo still copies the artifact; `aim import` into another repository keeps a signature
// only when it signs the imported files, so a pull there under a policy works, and a layout whose signatures do not
// match (or are garbage, huge, or about another manifest) imports with a warning and is refused by that pull.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, truncate, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkspace, expectUserError, type Workspace } from '../helpers/cli.js';
import { schemaCheckers } from './oci-contracts.js';
import { sha256 } from './oci-layouts.js';

const BUNDLE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

let ws: Workspace;
let alice: string;

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

const blobPath = (layout: string, digest: string) => join(layout, 'blobs', 'sha256', digest.slice('sha256:'.length));
const readJson = async (path: string) => JSON.parse(await readFile(path, 'utf8'));

/** Writes `bytes` as a blob of the layout folder; returns its descriptor. */
async function addBlob(layout: string, mediaType: string, bytes: Buffer | string, extra: Partial<Descriptor> = {}): Promise<Descriptor> {
  const buffer = Buffer.from(bytes);
  const descriptor = { mediaType, digest: sha256(buffer), size: buffer.length, ...extra };
  await writeFile(blobPath(layout, descriptor.digest), buffer);
  return descriptor;
}

async function push(ref: string, files: Record<string, string>, ...flags: string[]): Promise<string> {
  const dir = ws.path('models', ref.replace(/\W+/g, '-'));
  await mkdir(dir, { recursive: true });
  for (const [path, text] of Object.entries(files)) await writeFile(join(dir, path), text);
  return (await ws.json(['push', ref, dir, '--force', ...flags])).digest as string;
}

/** A fresh target repository named `name` whose policy requires alice's signature. */
async function strictRepo(name: string): Promise<void> {
  await mkdir(ws.path(name), { recursive: true });
  await ws.json(['repo', 'create', name, '--type', 'local', '--path', ws.path(name)]);
  await ws.json(['trust', 'add', name, 'alice.pub', '--name', 'alice']);
}

async function exportDir(ref: string, dir: string): Promise<{ index: { manifests: Descriptor[] }; model: Descriptor }> {
  await ws.json(['export', ref, '-o', dir, '--layout', 'dir']);
  const index = await readJson(join(resolve(ws.dir, dir), 'index.json'));
  return { index, model: index.manifests[0] };
}

function skopeo(args: string[]): { stdout: string; stderr: string; status: number | null } {
  const result = spawnSync('skopeo', args, { cwd: ws.dir, encoding: 'utf8' });
  return { stdout: result.stdout ?? '', stderr: result.stderr ?? '', status: result.status };
}

beforeAll(async () => {
  ws = await createWorkspace((dir) => ({ team: { type: 'local', path: join(dir, 'store') } }));
  alice = (await ws.json(['key', 'generate', 'alice'])).keyId;
  await ws.json(['key', 'generate', 'bob']);
  await ws.json(['trust', 'add', 'team', 'alice.pub', '--name', 'alice']);
});
afterAll(() => ws.cleanup());

describe('export carries the signatures', () => {
  it('as a model.sig layer and as a referrer whose subject is the model manifest; skopeo copies it; import elsewhere then pull under the policy', async () => {
    await push('team/m:v1', { 'w.bin': 'weights '.repeat(1000), 'config.json': '{}' }, '--sign', '--key', 'alice.key');
    await push('team/m:v1', { 'w.bin': 'weights '.repeat(1000), 'config.json': '{}' }, '--sign', '--key', 'bob.key');
    const exported = await ws.json(['export', 'team/m:v1', '-o', 'signed.tar']);
    expect(exported.signatures.map((s: { keyId: string }) => s.keyId)).toContain(alice);
    expect(exported.signatures).toHaveLength(2);
    expect(exported.layers.map((l: { path: string }) => l.path)).toEqual(['config.json', 'w.bin']);

    const check = await schemaCheckers();
    const manifest = JSON.parse(skopeo(['inspect', '--raw', 'oci-archive:signed.tar:v1']).stdout);
    expect(check.manifest(manifest)).toEqual([]);
    expect(check.config(JSON.parse(skopeo(['inspect', '--config', '--raw', 'oci-archive:signed.tar:v1']).stdout))).toEqual([]);
    const sigLayers = manifest.layers.filter((l: Descriptor) => l.annotations?.['org.cncf.model.filepath'] === 'model.sig');
    expect(sigLayers).toEqual([expect.objectContaining({ mediaType: BUNDLE })]);

    const { index, model } = await exportDir('team/m:v1', 'signed-dir');
    expect(model.digest).toBe(exported.manifestDigest);
    const referrers = index.manifests.filter((m) => m.artifactType === BUNDLE);
    expect(referrers.map((r) => r.digest).sort()).toEqual(exported.signatures.map((s: { referrer: string }) => s.referrer).sort());
    for (const descriptor of referrers) {
      const referrer = await readJson(blobPath(ws.path('signed-dir'), descriptor.digest));
      expect(check.manifest(referrer)).toEqual([]);
      expect(referrer).toMatchObject({ schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: BUNDLE, config: { mediaType: 'application/vnd.oci.empty.v1+json', size: 2 } });
      expect(referrer.subject).toEqual({ mediaType: OCI_MANIFEST, digest: model.digest, size: model.size });
      expect(referrer.layers).toEqual([expect.objectContaining({ mediaType: BUNDLE })]);
    }

    const copy = skopeo(['copy', 'oci-archive:signed.tar:v1', 'oci:copied']);
    expect(copy.status, copy.stderr).toBe(0);

    await strictRepo('dest');
    const imported = await ws.json(['import', 'signed.tar', 'dest/m:v1']);
    expect(imported.signatures.stored).toContain(alice);
    expect(imported.signatures.warnings).toEqual([]);
    expect((await ws.run(['pull', 'dest/m:v1', ws.path('out-dest')])).code).toBe(0);
    expect(await readFile(ws.path('out-dest', 'config.json'), 'utf8')).toBe('{}');
    expect(existsSync(ws.path('out-dest', 'model.sig'))).toBe(false);

    // What skopeo copied holds the model.sig layer only (skopeo copies one image, not its referrers): still enough,
    // as the exporter trusts alice, so hers is the one that layer carries.
    await strictRepo('dest2');
    const fromCopy = await ws.json(['import', 'copied', 'dest2/m:v1']);
    expect(fromCopy.signatures.stored).toHaveLength(1);
    expect((await ws.run(['pull', 'dest2/m:v1', ws.path('out-dest2')])).code).toBe(0);
  });
});

describe('import drops what does not sign the imported files', () => {
  /** An unsigned version exported as a folder, with `referrer` written as a referrer manifest of its model. */
  async function layoutWithReferrer(name: string, referrer: (layout: string, model: Descriptor) => Promise<Descriptor>): Promise<string> {
    await push(`team/${name}:v1`, { 'w.bin': `unsigned ${name}` });
    const layout = ws.path(`${name}-layout`);
    const { index, model } = await exportDir(`team/${name}:v1`, layout);
    index.manifests.push(await referrer(layout, model));
    await writeFile(join(layout, 'index.json'), JSON.stringify(index));
    return layout;
  }

  async function referrerOf(layout: string, subject: Descriptor, bundle: Buffer): Promise<Descriptor> {
    const layer = await addBlob(layout, BUNDLE, bundle);
    const config = await addBlob(layout, 'application/vnd.oci.empty.v1+json', '{}');
    const manifest = { schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: BUNDLE, config, layers: [layer], subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size } };
    return addBlob(layout, OCI_MANIFEST, JSON.stringify(manifest), { artifactType: BUNDLE });
  }

  async function expectDroppedThenRefused(layout: string, target: string, warning: RegExp): Promise<void> {
    await strictRepo(target);
    const result = await ws.run(['import', layout, `${target}/m:v1`]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(warning);
    const pulled = await ws.run(['pull', `${target}/m:v1`, ws.path(`out-${target}`)]);
    expectUserError(pulled, /refusing .*: no trusted key signed it\. Found: no signature/);
    expect(pulled.code).toBe(4);
    expect(existsSync(ws.path(`out-${target}`))).toBe(false);
  }

  it('a referrer holding a signature of another version', async () => {
    const other = await push('team/other:v1', { 'tokenizer.json': '{}' }, '--sign', '--key', 'alice.key');
    const hex = other.slice('blake3:'.length);
    const bundle = await readFile(ws.path('store', 'signatures', hex.slice(0, 2), hex, `${alice}.sig`));
    const layout = await layoutWithReferrer('copied', (dir, model) => referrerOf(dir, model, bundle));
    await expectDroppedThenRefused(layout, 'copied', /warning: dropped the signature in referrer sha256:[0-9a-f]+ of .*: it signs tokenizer.json, which this version does not have/);
  });

  it('a referrer whose manifest is garbage', async () => {
    const layout = await layoutWithReferrer('garbage', (dir) => addBlob(dir, OCI_MANIFEST, 'not json at all', { artifactType: BUNDLE }));
    await expectDroppedThenRefused(layout, 'garbage', /dropped the signature in referrer .*not valid JSON/);
  });

  it('a referrer manifest of 100 MB is refused from its size, unread', async () => {
    const layout = await layoutWithReferrer('huge', async (dir) => {
      const digest = `sha256:${'ab'.repeat(32)}`;
      await writeFile(blobPath(dir, digest), '');
      await truncate(blobPath(dir, digest), 100 * 1024 * 1024);
      return { mediaType: OCI_MANIFEST, digest, size: 100 * 1024 * 1024, artifactType: BUNDLE };
    });
    await expectDroppedThenRefused(layout, 'huge', /dropped the signature in referrer .*104857600 bytes, more than the 65536/);
  });

  it('a referrer whose subject names another manifest', async () => {
    let bundle = Buffer.alloc(0);
    const layout = await layoutWithReferrer('elsewhere', async (dir, model) => {
      // Signed after the export: the bundle signs exactly these files; only the referrer's subject is wrong.
      const signed = await ws.json(['sign', 'team/elsewhere:v1', '--key', 'alice.key']);
      bundle = await readFile(ws.path('store', signed.stored));
      return referrerOf(dir, { ...model, digest: sha256('another manifest') }, bundle);
    });
    expect(bundle.length).toBeGreaterThan(0);
    await expectDroppedThenRefused(layout, 'elsewhere', /refers to sha256:[0-9a-f]{64}, not the model sha256:/);
  });

  it('a model.sig layer of 100 MB is refused from its size, unread', async () => {
    await push('team/bigsig:v1', { 'w.bin': 'bigsig' }, '--sign', '--key', 'alice.key');
    const layout = ws.path('bigsig-layout');
    const { index, model } = await exportDir('team/bigsig:v1', layout);
    const manifest = await readJson(blobPath(layout, model.digest));
    const sigLayer = manifest.layers.find((l: Descriptor) => l.mediaType === BUNDLE);
    const digest = `sha256:${'cd'.repeat(32)}`;
    await writeFile(blobPath(layout, digest), '');
    await truncate(blobPath(layout, digest), 100 * 1024 * 1024);
    Object.assign(sigLayer, { digest, size: 100 * 1024 * 1024 });
    const rewritten = await addBlob(layout, OCI_MANIFEST, JSON.stringify(manifest), { artifactType: model.artifactType, annotations: model.annotations });
    // Only the model, without its referrers: the model.sig layer is all that could vouch for it.
    await writeFile(join(layout, 'index.json'), JSON.stringify({ ...index, manifests: [rewritten] }));
    await expectDroppedThenRefused(layout, 'bigsig', /dropped the signature in model.sig layer .*104857600 bytes, more than the 16777216/);
  });
});
