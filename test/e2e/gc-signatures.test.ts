// aim gc removes the signature objects of the versions it removes (and of versions never stored), and keeps those
// of every version a tag reaches, so a pull under a trust policy still finds them.
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createWorkspace, pushFiles, type Workspace } from '../helpers/cli.js';

let ws: Workspace;
const NOW = ['--grace', '0', '--max-unused', '0'];
const signatureFolder = (digest: string): string => {
  const hex = digest.replace('blake3:', '');
  return ws.path('repo', 'signatures', hex.slice(0, 2), hex);
};

const pushSigned = (ref: string, text: string): Promise<string> => pushFiles(ws, ref, { 'weights.bin': text }, '--sign', '--key', 'alice.key');

beforeAll(async () => {
  ws = await createWorkspace((dir) => ({ r: { type: 'local', path: join(dir, 'repo') } }));
  await ws.json(['key', 'generate', 'alice']);
  await ws.json(['trust', 'add', 'r', 'alice.pub', '--name', 'alice']);
});
afterAll(() => ws.cleanup());

it('removes the signatures of a deleted version and of a version never stored, keeping the tagged ones', async () => {
  const v1 = await pushSigned('r/m:v1', 'first weights '.repeat(1000));
  const v2 = await pushSigned('r/m:v2', 'second weights '.repeat(1000));
  // A signature planted for a version the repository never held.
  const ghost = `blake3:${'ab'.repeat(32)}`;
  await mkdir(signatureFolder(ghost), { recursive: true });
  for (const name of await readdir(signatureFolder(v2))) await copyFile(join(signatureFolder(v2), name), join(signatureFolder(ghost), name));
  await ws.json(['model', 'delete-version', 'r', 'm', '--tag', 'v1']);

  const dry = await ws.json(['gc', 'r', ...NOW, '--json']);
  expect(dry.signatures).toBe(2);
  expect(existsSync(signatureFolder(v1))).toBe(true);
  const done = await ws.json(['gc', 'r', '--yes', ...NOW, '--json']);
  expect(done.signatures).toBe(2);
  expect(done.bytes.signatures).toBeGreaterThan(0);
  expect(await readdir(signatureFolder(v1)).catch(() => [])).toEqual([]);
  expect(await readdir(signatureFolder(ghost)).catch(() => [])).toEqual([]);
  expect(await readdir(signatureFolder(v2))).toHaveLength(1);
  // The policy still accepts the version that stays.
  const pulled = await ws.run(['pull', 'r/m:v2', ws.path('out')]);
  expect(pulled.code, pulled.stderr).toBe(0);
  expect((await ws.json(['gc', 'r', '--yes', ...NOW, '--json'])).signatures).toBe(0);
});
