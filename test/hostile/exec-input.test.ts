// `aim exec` fed requests an attacker (or a script gone wrong) would write, through the real CLI under the harness's
// time and memory bound: endless and huge inputs are read only up to the limit, deep or wrongly typed JSON is refused
// in one escaped line, and nothing is pulled, loaded or written for a request that is refused.
import { open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkspace, expectUserError, type Workspace } from '../helpers/cli.js';
import { expectUnchanged, runBounded, snapshot } from './harness.js';

const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

let ws: Workspace;
beforeAll(async () => {
  ws = await createWorkspace((dir) => ({ team: { type: 'local', path: join(dir, 'store') } }));
  // 1.5 GiB that takes no disk: a sparse file, as a request "file".
  const sparse = await open(ws.path('huge.json'), 'w');
  await sparse.truncate(1.5 * 1024 ** 3);
  await sparse.close();
  await writeFile(ws.path('deep.json'), `{"messages":[{"role":"user","content":${'['.repeat(100_000)}${']'.repeat(100_000)}}]}`);
  await writeFile(ws.path('deep-array.json'), `${'['.repeat(400_000)}${']'.repeat(400_000)}`);
  await writeFile(ws.path('escapes.json'), JSON.stringify({ messages: [{ role: '\u001b[2J\u202euser', content: 'x' }] }));
});
afterAll(() => ws.cleanup());

const CASES: Array<[string, string[], RegExp]> = [
  ['a 1.5 GiB sparse file', ['--input-file', 'huge.json'], /more than the 1048576 a request may have/],
  ['an endless device', ['--input-file', '/dev/zero'], /more than the 1048576 a request may have/],
  ['100,000-deep content', ['--input-file', 'deep.json'], /messages\.0\.content/],
  ['400,000-deep arrays', ['--input-file', 'deep-array.json'], /is not valid JSON|must be a JSON object/],
  ['escape sequences in a role', ['--input-file', 'escapes.json'], /messages\.0\.role/],
  ['a prompt of the wrong type', ['--input', '{"prompt":{"$gt":""}}'], /prompt/],
  ['max_tokens out of range', ['--input', '{"prompt":"x","max_tokens":-1}'], /max_tokens/],
];

describe('aim exec with hostile requests', () => {
  for (const [name, args, message] of CASES) {
    it(`refuses ${name} in one line, within the bounds, touching nothing`, async () => {
      const before = await snapshot(ws.dir);
      const result = await runBounded(ws, ['exec', 'team/tiny:v1', ...args], { maxRssMiB: 300 });
      expectUserError(result, message);
      expect(result.stderr).not.toMatch(RAW_CONTROL);
      expect(result.stdout).toBe('');
      await expectUnchanged(ws.dir, before);
    });
  }
});
