// `aim push` of a Hugging Face cache snapshot folder, laid out as `huggingface-cli download` leaves it: the files
// of snapshots/<commit>/ are links into ../../blobs/<sha256>. The linked files are pushed under their snapshot
// names; a link to a folder or to nothing is named on stderr and skipped. A model fetched from the hub by
// `aim run` and pushed to the team afterwards moves no bytes the team already has.
import { createHash } from 'node:crypto';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTinyGguf } from '../../fixtures/tiny-gguf.js';
import { createWorkspace, type Workspace } from '../helpers/cli.js';
import { HubStandIn } from '../helpers/hub-stand-in.js';

const gguf = buildTinyGguf({ quant: 'q8_0', seed: 21 });
const config = Buffer.from('{"architectures":["LlamaForCausalLM"]}\n');
const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

let ws: Workspace;
let hub: HubStandIn;
beforeAll(async () => {
  hub = await HubStandIn.start();
  ws = await createWorkspace((dir) => ({ team: { type: 'local', path: join(dir, 'store') } }), { HF_ENDPOINT: hub.endpoint, HF_TOKEN: '', KAMIWAZA_BASE_URL: '' });
});
afterAll(async () => {
  await ws.run(['stop', '--all']);
  await ws.cleanup();
  await hub.stop();
});

async function hfCacheSnapshot(): Promise<string> {
  const repo = ws.path('hf-cache', 'hub', 'models--tiny-org--cached-GGUF');
  const snapshot = join(repo, 'snapshots', 'b'.repeat(40));
  await mkdir(join(repo, 'blobs'), { recursive: true });
  await mkdir(snapshot, { recursive: true });
  for (const [name, data] of [['tiny-q8_0.gguf', gguf], ['config.json', config]] as const) {
    await writeFile(join(repo, 'blobs', sha(data)), data);
    await symlink(join('..', '..', 'blobs', sha(data)), join(snapshot, name));
  }
  await symlink('../../blobs', join(snapshot, 'all-blobs'));
  await symlink('../../blobs/gone', join(snapshot, 'dangling.bin'));
  return snapshot;
}

describe('aim push of a Hugging Face cache snapshot', () => {
  it('pushes the linked files and names the links it skips, one line each', async () => {
    const snapshot = await hfCacheSnapshot();
    const human = await ws.run(['push', 'team/cached:v1', snapshot]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stderr).toMatch(/^skipped all-blobs: a link to \.\.\/\.\.\/blobs \(a folder\), not to a regular file$/m);
    expect(human.stderr).toMatch(/^skipped dangling\.bin: a link to \.\.\/\.\.\/blobs\/gone \(nothing: a dangling link\), not to a regular file$/m);
    const inspected = await ws.json(['inspect', 'team/cached:v1']);
    expect(inspected.files.map((f: { path: string }) => f.path).sort()).toEqual(['config.json', 'tiny-q8_0.gguf']);
    await ws.json(['pull', 'team/cached:v1', 'pulled']);
    expect(await readFile(ws.path('pulled', 'tiny-q8_0.gguf'))).toEqual(gguf);
  });

  it('a model aim run fetched from the hub pushes to the team without sending bytes the team has', async () => {
    hub.publish('tiny-org/cached-GGUF', { files: { 'tiny-q8_0.gguf': gguf, 'config.json': config } });
    const record = await ws.json(['run', 'hf.co/tiny-org/cached-GGUF', '--threads', '1', '--ctx-size', '1024', '--engine', 'embedded']);
    await ws.json(['stop', record.name]);
    const folder = record.modelPath.slice(0, record.modelPath.lastIndexOf('/'));
    const pushed = await ws.json(['push', 'team/cached:from-hub', folder]);
    expect(pushed).toMatchObject({ files: 1, bytesTransferred: 0 });
    expect(pushed.bytesSkipped).toBe(gguf.length);
  });
});
