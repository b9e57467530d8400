// aim copy carries a version's signatures to the destination (before its tags move), so a trust policy there
// accepts what it accepted at the source; a signature that covers other files stays behind.
import { copyFile, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createWorkspace, expectUserError, pushFiles, type Workspace } from '../helpers/cli.js';

let ws: Workspace;

const push = (ref: string, files: Record<string, string>, ...flags: string[]): Promise<string> => pushFiles(ws, ref, files, ...flags);

beforeAll(async () => {
  ws = await createWorkspace((dir) => ({ src: { type: 'local', path: join(dir, 'src') }, dst: { type: 'local', path: join(dir, 'dst') } }));
  await ws.json(['key', 'generate', 'alice']);
  await ws.json(['trust', 'add', 'dst', 'alice.pub', '--name', 'alice']);
  await ws.json(['trust', 'add', 'src', 'alice.pub', '--name', 'alice']);
});
afterAll(() => ws.cleanup());

it('a signed version copied to a repository that requires signatures pulls there', async () => {
  const digest = await push('src/m:v1', { 'a.txt': 'signed bytes' }, '--sign', '--key', 'alice.key');
  const copied = await ws.json(['copy', 'src/m:v1', 'dst']);
  expect(copied.versions[0].digest).toBe(digest);
  expect(copied.versions[0].signatures).toHaveLength(1);
  const pulled = await ws.run(['pull', 'dst/m:v1', ws.path('out-signed')]);
  expect(pulled.code, pulled.stderr).toBe(0);
  const human = await ws.run(['copy', 'src/m:v1', 'dst/again:v1']);
  expect(human.stdout).toMatch(/\(1 signature carried\)/);
});

it('an unsigned version copied there is still refused, and a signature of other files stays behind', async () => {
  await push('src/u:v1', { 'a.txt': 'nobody vouched' });
  expect((await ws.json(['copy', 'src/u:v1', 'dst'])).versions[0].signatures).toEqual([]);
  const refused = await ws.run(['pull', 'dst/u:v1', ws.path('out-unsigned')]);
  expectUserError(refused, /refusing dst\/u:v1 .*no trusted key signed it/);
  expect(refused.code).toBe(4);
  // A signature stored for one version, planted beside another: copy does not carry it, and says so.
  const signedDigest = await push('src/s:v1', { 'a.txt': 'first' }, '--sign', '--key', 'alice.key');
  const otherDigest = await push('src/s:v2', { 'a.txt': 'second' });
  const hex = (d: string) => d.replace('blake3:', '');
  const from = ws.path('src', 'signatures', hex(signedDigest).slice(0, 2), hex(signedDigest));
  const to = ws.path('src', 'signatures', hex(otherDigest).slice(0, 2), hex(otherDigest));
  await mkdir(to, { recursive: true });
  for (const name of await readdir(from)) await copyFile(join(from, name), join(to, name));
  const copied = await ws.run(['copy', 'src/s:v2', 'dst']);
  expect(copied.code, copied.stderr).toBe(0);
  expect(copied.stdout).not.toMatch(/carried/);
  expect(copied.stderr).toMatch(/not carrying signatures\/.* it signs other bytes for a\.txt/);
  expect((await ws.run(['pull', 'dst/s:v2', ws.path('out-other')])).code).toBe(4);
});
