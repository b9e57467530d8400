// The hub download is the push: bytes are chunked and hashed as they arrive into aim's hub repository, with no plain
// copy of the file on disk meanwhile; a run killed with kill -9 past a checkpoint resumes with a Range request for
// exactly the bytes not stored; a sha256 mismatch tags and serves nothing; the token comes from HF_TOKEN or, as
// huggingface_hub finds it, from HF_TOKEN_PATH or $HF_HOME/token. Against the hub stand-in (test/helpers/hub-stand-in.ts).
import { createHash } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTinyGguf } from '../../fixtures/tiny-gguf.js';
import { createWorkspace, expectUserError, killWhen, type Workspace } from '../helpers/cli.js';
import { HubStandIn } from '../helpers/hub-stand-in.js';

const SERVE = ['--threads', '1', '--ctx-size', '1024'];
const CHECKPOINT = 1024 * 1024;
// 8.7 MB: big enough that a download stalled at half has been cut into chunks past a few checkpoints.
const big = buildTinyGguf({ quant: 'f16', seed: 11, embd: 256, ff: 1024, layers: 4 });
const small = buildTinyGguf({ quant: 'q8_0', seed: 5 });
const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

let hub: HubStandIn;
const workspaces: Workspace[] = [];
async function freshMachine(): Promise<Workspace> {
  const ws = await createWorkspace(undefined, {
    KAMIWAZA_BASE_URL: '', KAMIWAZA_BASE_URI: '', KAMIWAZA_API_URL: '', HF_TOKEN: '', HUGGING_FACE_HUB_TOKEN: '', HF_TOKEN_PATH: '',
    HF_ENDPOINT: hub.endpoint, AIM_TEST_HUB_CHECKPOINT_BYTES: String(CHECKPOINT),
  });
  ws.env.HF_HOME = ws.path('hf-home'); // never the machine's own ~/.cache/huggingface
  workspaces.push(ws);
  return ws;
}

/** Every regular file under `root` with its size, links not followed. */
async function filesUnder(root: string): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  const visit = async (dir: string): Promise<void> => {
    for (const name of await readdir(dir).catch(() => [])) {
      const info = await lstat(join(dir, name));
      if (info.isDirectory()) await visit(join(dir, name));
      else if (info.isFile()) found.set(relative(root, join(dir, name)), info.size);
    }
  };
  await visit(root);
  return found;
}
const sum = (sizes: Iterable<number>) => [...sizes].reduce((a, b) => a + b, 0);

async function journalBytes(path: string): Promise<number> {
  const text = await readFile(path, 'utf8').catch(() => undefined);
  if (!text) return 0;
  return (JSON.parse(text).chunks as Array<[string, number]>).reduce((total, [, size]) => total + size, 0);
}

beforeAll(async () => {
  hub = await HubStandIn.start();
});
afterAll(async () => {
  for (const ws of workspaces) {
    await ws.run(['stop', '--all']);
    await ws.cleanup();
  }
  await hub.stop();
});

describe('the hub download, chunked and hashed as it arrives', () => {
  it('keeps no plain copy while downloading, and resumes after kill -9 asking only for the bytes not stored', async () => {
    const ws = await freshMachine();
    const repo = 'tiny-org/resume-GGUF';
    hub.publish(repo, { files: { 'resume-f16.gguf': big } });
    const half = Math.floor(big.length / 2);
    const journal = join(ws.home, 'hub-downloads', 'tiny-org--resume-gguf', 'f16', 'resume-f16.gguf.chunks');
    hub.stallAfter = half;
    let during = new Map<string, number>();
    try {
      await killWhen(ws.start(['run', `hf.co/${repo}`, ...SERVE]), async () => {
        if ((await journalBytes(journal)) < CHECKPOINT) return false;
        during = await filesUnder(ws.home);
        return true;
      });
    } finally {
      hub.stallAfter = undefined;
    }
    // While the download runs, its bytes are only in packs: nothing else in AIM_HOME holds more than a journal.
    const outsidePacks = [...during].filter(([path]) => !path.startsWith('hub-repo/packs/'));
    expect(sum(outsidePacks.map(([, size]) => size))).toBeLessThan(64 * 1024);
    expect(sum(during.values())).toBeLessThan(half + 64 * 1024);

    const stored = await journalBytes(journal);
    expect(stored).toBeGreaterThanOrEqual(CHECKPOINT);
    const sentBefore = hub.bytesSent.get(sha(big)) ?? 0;
    const seenBefore = hub.seen.length;
    const record = await ws.json(['run', `hf.co/${repo}`, ...SERVE]);
    const resumed = hub.seen.slice(seenBefore).filter((r) => r.host === 'cdn');
    expect(resumed.map((r) => r.range)).toEqual([`bytes=${stored}-`]);
    expect((hub.bytesSent.get(sha(big)) ?? 0) - sentBefore).toBe(big.length - stored);
    expect(record).toMatchObject({ name: 'resume-gguf', quant: 'F16' });
    expect(sha(await readFile(record.modelPath))).toBe(sha(big));
    expect(await lstat(journal).catch(() => undefined)).toBeUndefined();
    // Beside the packs, one plain copy: the file served.
    const after = await filesUnder(ws.home);
    const packs = sum([...after].filter(([path]) => path.startsWith('hub-repo/packs/')).map(([, size]) => size));
    expect(packs).toBeGreaterThanOrEqual(big.length);
    expect(sum(after.values()) - packs).toBeLessThan(big.length + 256 * 1024);
    await ws.json(['stop', record.name]);
  });

  it('tags, installs and serves nothing when the content does not match the published sha256, and starts afresh next time', async () => {
    const ws = await freshMachine();
    hub.publish('bad-org/bad-GGUF', { wrongSha: ['bad-f16.gguf'], files: { 'bad-f16.gguf': big } });
    const result = await ws.run(['run', 'hf.co/bad-org/bad-GGUF', ...SERVE]);
    expectUserError(result, /bad-f16\.gguf does not match the sha256 the hub publishes/);
    expect(result.code).toBe(4);
    expect((await ws.json(['ps'])).deployments).toEqual([]);
    expect(await lstat(join(ws.home, 'hub-repo', 'models')).catch(() => undefined)).toBeUndefined();
    expect(await lstat(join(ws.home, 'hub-downloads', 'bad-org--bad-gguf', 'f16', 'bad-f16.gguf.chunks')).catch(() => undefined)).toBeUndefined();
    const seenBefore = hub.seen.length;
    expect((await ws.run(['run', 'hf.co/bad-org/bad-GGUF', ...SERVE])).code).toBe(4);
    expect(hub.seen.slice(seenBefore).filter((r) => r.host === 'cdn').map((r) => r.range)).toEqual([undefined]);
  });
});

describe('the Hugging Face token, as huggingface_hub finds it', () => {
  beforeAll(() => hub.publish('gated-org/filed-GGUF', { gated: true, files: { 'filed-q8_0.gguf': small } }));

  it('reads $HF_HOME/token, then HF_TOKEN_PATH, trimmed', async () => {
    const ws = await freshMachine();
    await mkdir(ws.path('hf-home'));
    await writeFile(ws.path('hf-home', 'token'), `  ${hub.token}\n`);
    const record = await ws.json(['run', 'hf.co/gated-org/filed-GGUF', ...SERVE]);
    expect(record).toMatchObject({ quant: 'Q8_0' });
    await ws.json(['stop', record.name]);

    const other = await freshMachine();
    await writeFile(other.path('elsewhere'), `${hub.token}\n`);
    const seenBefore = hub.seen.length;
    const viaPath = await other.json(['run', 'hf.co/gated-org/filed-GGUF', ...SERVE], { env: { HF_TOKEN_PATH: other.path('elsewhere') } });
    expect(hub.seen.slice(seenBefore).filter((r) => r.host === 'hub').every((r) => r.authorization === `Bearer ${hub.token}`)).toBe(true);
    await other.json(['stop', viaPath.name]);
  });

  it('names HF_TOKEN and the token file when neither is there (exit 7)', async () => {
    const ws = await freshMachine();
    const refused = await ws.run(['run', 'hf.co/gated-org/filed-GGUF', ...SERVE]);
    expectUserError(refused, /refused gated-org\/filed-GGUF.*\(HTTP 401\)/);
    expect(refused.code).toBe(7);
    expect(refused.stderr).toContain(`set HF_TOKEN, or write the token to ${ws.path('hf-home', 'token')}`);
  });

  it('refuses a token file that is a link or a folder, plainly', async () => {
    const ws = await freshMachine();
    await writeFile(ws.path('real-token'), hub.token);
    await symlink(ws.path('real-token'), ws.path('linked-token'));
    const linked = await ws.run(['run', 'hf.co/gated-org/filed-GGUF', ...SERVE], { env: { HF_TOKEN_PATH: ws.path('linked-token') } });
    expectUserError(linked, /cannot read the Hugging Face token file .*linked-token: .*a symlink/);
    expect(linked.code).toBe(7);
    await mkdir(ws.path('hf-home', 'token'), { recursive: true });
    expectUserError(await ws.run(['run', 'hf.co/gated-org/filed-GGUF', ...SERVE]), /token file .*token: .*a folder/);
  });
});
