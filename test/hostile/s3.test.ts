// The S3 server as attacker: a real repository on each test server (s3rver, radosgw) seen through an endpoint that
// answers chosen requests with lies (test/helpers/hostile-s3.ts). Each case runs the real CLI under a time and
// memory bound and expects one plain error line, nothing written to the destination, and nothing printed that the
// server could use to drive the terminal.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkspace, expectUserError, type RepoEntry, type Workspace } from '../helpers/cli.js';
import { drip, type HostileS3, hugeBody, listPage, s3Error, startHostileS3 } from '../helpers/hostile-s3.js';
import { S3RVER_ENV } from '../helpers/s3-server.js';
import { type S3ServerUnderTest, s3Servers } from '../helpers/s3-servers.js';
import { expectUnchanged, runBounded, snapshot } from './harness.js';

const MiB = 1024 * 1024;
/** Short deadlines so the cases that wait one out stay quick; the idle timeout is longer than any drip's gap. */
const env = {
  ...S3RVER_ENV,
  AIM_S3_MAX_ATTEMPTS: '2',
  AIM_S3_RETRY_BASE_MS: '10',
  AIM_S3_RETRY_MAX_MS: '50',
  AIM_S3_REQUEST_TIMEOUT_MS: '2000',
  AIM_S3_IDLE_TIMEOUT_MS: '10000',
};

const LIST = /^GET \/[^/?]+\/?\?(.*&)?list-type=2/;
const TAG = /^GET \/[^?]*\/models\/m\/tags\/v1(\?|$)/;
const MANIFEST = /^GET \/[^?]*\/manifests\/blake3\//;
const INDEX = /^GET \/[^?]*\/index\/[0-9a-f]+\.json(\?|$)/;
const MAP = /^GET \/[^?]*\/locations\//;
/** The index files, and the version's location map, answered as missing so that the pull reads the index. */
const INDEX_WITHOUT_MAP = new RegExp(`${INDEX.source}|${MAP.source}`);
// Escape sequences a terminal obeys: colour, clear screen, set the window title (OSC ... BEL).
const ESCAPES = '\u001b[31m\u001b[2J\u001b]0;owned\u0007';

interface Case {
  name: string;
  when: RegExp;
  respond: (req: IncomingMessage, res: ServerResponse) => void;
  command: 'list' | 'pull';
  refused: RegExp;
  /** Memory bound in MiB (the harness default is 400). */
  maxRssMiB?: number;
  /** A longer whole-request deadline than the other cases get. */
  requestTimeoutMs?: number;
}

const cases: Case[] = [
  {
    name: 'a listing that repeats its continuation token',
    when: LIST,
    respond: (req, res) => listPage(req, res, { keys: ['m/tags/v1'], truncated: true, next: 'again' }),
    command: 'list',
    refused: /repeated the continuation token again: the listing would never end/,
  },
  {
    name: 'a truncated listing without a continuation token',
    when: LIST,
    respond: (req, res) => listPage(req, res, { keys: ['m/tags/v1'], truncated: true }),
    command: 'list',
    refused: /said the listing goes on but gave no continuation token/,
  },
  {
    name: 'a listing reply of 40 MiB',
    when: LIST,
    respond: (_req, res) => hugeBody(res, 40 * MiB, { declare: true, contentType: 'application/xml' }),
    command: 'list',
    refused: /ReplyTooLarge/,
  },
  {
    name: 'a listing reply of 1 GiB without a length',
    when: LIST,
    respond: (_req, res) => hugeBody(res, 1024 * MiB, { declare: false, contentType: 'application/xml' }),
    command: 'list',
    refused: /ReplyTooLarge/,
  },
  {
    name: 'a listing that drips a byte at a time, inside the idle timeout',
    when: LIST,
    respond: (_req, res) => drip(res, 100, { 'content-type': 'application/xml' }),
    command: 'list',
    refused: /timed out/,
  },
  {
    name: 'a 300 MiB tag object, announced',
    when: TAG,
    respond: (_req, res) => hugeBody(res, 300 * MiB, { declare: true }),
    command: 'pull',
    refused: /corrupt tag at models\/m\/tags\/v1 in s3:\/\/\S+: 314572800 bytes, more than the 65536 such a file can hold/,
  },
  {
    name: 'a 1 GiB tag object without a length',
    when: TAG,
    respond: (_req, res) => hugeBody(res, 1024 * MiB, { declare: false }),
    command: 'pull',
    refused: /corrupt tag at models\/m\/tags\/v1 in s3:\/\/\S+: more than the 65536 such a file can hold/,
  },
  {
    name: 'a 2 GiB manifest, announced',
    when: MANIFEST,
    respond: (_req, res) => hugeBody(res, 2048 * MiB, { declare: true }),
    command: 'pull',
    refused: /corrupt manifest at blake3:[0-9a-f]{64} in repository lying: 2147483648 bytes, more than the 536870912 such a file can hold/,
  },
  {
    name: 'a 600 MiB manifest without a length',
    when: MANIFEST,
    respond: (_req, res) => hugeBody(res, 600 * MiB, { declare: false }),
    command: 'pull',
    refused: /corrupt manifest at blake3:[0-9a-f]{64} in repository lying: more than the 536870912 such a file can hold/,
    // A manifest may honestly be 512 MiB (core/format/schemas/limits.ts): that much is read before the refusal, which
    // takes longer than the short request deadline the drip cases use on a loaded machine.
    maxRssMiB: 1000,
    requestTimeoutMs: 25_000,
  },
  {
    name: 'a 4 GiB index file, announced',
    when: INDEX_WITHOUT_MAP,
    respond: (req, res) => (MAP.test(`${req.method} ${req.url}`) ? s3Error(res, 404, 'NoSuchKey', 'no map') : hugeBody(res, 4096 * MiB, { declare: true })),
    command: 'pull',
    refused: /corrupt index file at index\/[0-9a-f]{32}\.json in s3:\/\/\S+: 4294967296 bytes, more than the 536870912 such a file can hold/,
  },
  {
    name: 'a tag read that drips a byte at a time, inside the idle timeout',
    when: TAG,
    respond: (_req, res) => drip(res, 100),
    command: 'pull',
    refused: /the request timed out/,
  },
  {
    name: 'an error whose code and message carry escape sequences',
    when: TAG,
    respond: (_req, res) => s3Error(res, 400, `Bad${ESCAPES}Code`, `look ${ESCAPES} here\nsecond line`),
    command: 'pull',
    refused: /Bad\\x1b\[31m\\x1b\[2J\\x1b\]0;owned\\x07Code/,
  },
  {
    name: 'a listing error whose message carries escape sequences',
    when: LIST,
    respond: (_req, res) => s3Error(res, 400, 'InvalidArgument', `look ${ESCAPES} here`),
    command: 'list',
    refused: /cannot list/,
  },
];

describe.each(s3Servers())('a hostile S3 server in front of $name', (server: S3ServerUnderTest) => {
  const prefix = `hostile-${randomUUID()}`;
  let front: HostileS3;
  let ws: Workspace;
  const repo = (endpoint: string): RepoEntry => ({ type: 's3', path: `s3://${server.bucket}/${prefix}`, region: 'us-east-1', endpoint });

  beforeAll(async () => {
    front = await startHostileS3(server.endpoint);
    ws = await createWorkspace({ real: repo(server.endpoint), lying: repo(front.endpoint) }, env);
    await mkdir(ws.path('model'));
    await writeFile(ws.path('model', 'weights.bin'), randomBytes(300_000));
    await ws.json(['model', 'push', 'real', 'm', ws.path('model'), '--tag', 'v1']);
  });
  afterAll(async () => {
    await front?.stop();
    await ws?.cleanup();
  });

  it.each(cases)('refuses $name', async ({ when, respond, command, refused, maxRssMiB, requestTimeoutMs }) => {
    const dest = ws.path(`out-${randomUUID()}`);
    const args = command === 'list' ? ['model', 'list', 'lying'] : ['model', 'pull', 'lying', 'm', dest, '--tag', 'v1'];
    const before = await snapshot(ws.dir, ['aim-home']);
    front.set({ when, respond });
    try {
      const deadline = requestTimeoutMs ? { env: { AIM_S3_REQUEST_TIMEOUT_MS: String(requestTimeoutMs) } } : {};
      const result = await runBounded(ws, args, { timeoutMs: 30_000 + (requestTimeoutMs ?? 0), maxRssMiB }, deadline);
      expectUserError(result, refused);
      expect(front.lied, 'the lie was never told: the case tested nothing').toBeGreaterThan(0);
      // Line ends only: no escape sequence, carriage return or other control character reaches the terminal.
      expect(result.stderr).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    } finally {
      front.set(undefined);
    }
    // Only the pull's own bookkeeping may appear; no file of the model.
    const created = await readdir(dest, { recursive: true }).catch(() => []);
    expect(created.filter((name) => name !== '.aim' && !name.startsWith('.aim/'))).toEqual([]);
    await expectUnchanged(ws.dir, before, ['aim-home', dest.slice(ws.dir.length + 1)]);
  });

  it('still works through the same endpoint once it stops lying', async () => {
    const dest = ws.path('honest');
    await ws.json(['model', 'pull', 'lying', 'm', dest, '--tag', 'v1']);
    expect((await ws.json(['model', 'list', 'lying'])).models.map((m: { name: string }) => m.name)).toEqual(['m']);
  });

  it('finishes on a rerun what a push stopped by a refused tag write left undone', async () => {
    const model = ws.path('model-v2');
    await mkdir(model);
    await writeFile(join(model, 'weights.bin'), randomBytes(200_000));
    const push = ['model', 'push', 'lying', 'm', model, '--tag', 'v2'];
    front.set({ when: /^PUT \/[^?]*\/models\/m\/tags\/latest(\?|$)/, respond: (_req, res) => s3Error(res, 403, 'AccessDenied', 'Access Denied') });
    try {
      expectUserError(await ws.run(push), /access denied: cannot write .*models\/m\/tags\/latest/);
    } finally {
      front.set(undefined);
    }
    const rerun = await ws.json(push);
    expect((await ws.json(['inspect', 'real/m:v2'])).digest).toBe(rerun.digest);
    expect((await ws.json(['inspect', 'real/m:latest'])).digest).toBe(rerun.digest);
  });
});
