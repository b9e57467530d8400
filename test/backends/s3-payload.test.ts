// Uploads skip the SHA-256 payload hash (x-amz-content-sha256: UNSIGNED-PAYLOAD) because their Content-MD5 is a
// signed header the server checks the body against (backends/s3/s3-client.ts). These cases put a man in the middle
// between the real CLI and each test server (s3rver, radosgw): what goes over the wire, a body changed in transit,
// and a body changed together with its MD5. Each change must be refused, and nothing half-stored may look stored.
// s3rver checks neither a body against its Content-MD5 nor the signature over it (it stores a changed body with a
// payload hash signed too), so the changes are tried on the servers that do: radosgw here, and S3 itself.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkspace, expectUserError, type RepoEntry, type Workspace } from '../helpers/cli.js';
import { type HostileS3, startHostileS3 } from '../helpers/hostile-s3.js';
import { S3RVER_ENV } from '../helpers/s3-server.js';
import { type S3ServerUnderTest, s3Servers } from '../helpers/s3-servers.js';

const env = { ...S3RVER_ENV, AIM_S3_MAX_ATTEMPTS: '2', AIM_S3_RETRY_BASE_MS: '10', AIM_S3_RETRY_MAX_MS: '50' };
/** The uploads of a push that carry the model's bytes: its packs and loose chunks. */
const UPLOAD = /^PUT \/[^?]*\/(packs|chunks)\//;

const flipped = (body: Buffer): Buffer => {
  const copy = Buffer.from(body);
  copy[copy.length >> 1] ^= 0xff;
  return copy;
};
const md5Of = (body: Buffer): string => createHash('md5').update(body).digest('base64');
/** The headers named in the request's SigV4 Authorization: what its signature covers. */
const signedHeaders = (headers: IncomingHttpHeaders): string[] => /SignedHeaders=([^,]+)/.exec(String(headers.authorization))?.[1]?.split(';') ?? [];

/** Servers that refuse a body that does not match its Content-MD5, and a request whose signed headers changed. */
const checking = s3Servers().filter((server) => server.name !== 's3rver');

/** A workspace with the server as `real` and, in front of it, a man in the middle as `middle`. */
function throughTheMiddle(server: S3ServerUnderTest): { front: () => HostileS3; ws: () => Workspace; newModel: (name: string, size: number) => Promise<string> } {
  const prefix = `payload-${randomUUID()}`;
  let front: HostileS3;
  let ws: Workspace;
  const repo = (endpoint: string): RepoEntry => ({ type: 's3', path: `s3://${server.bucket}/${prefix}`, region: 'us-east-1', endpoint });
  beforeAll(async () => {
    front = await startHostileS3(server.endpoint);
    ws = await createWorkspace({ real: repo(server.endpoint), middle: repo(front.endpoint) }, env);
  });
  afterAll(async () => {
    await front?.stop();
    await ws?.cleanup();
  });
  /** A new model folder of one file of random bytes (new bytes: every push of it uploads). */
  const newModel = async (name: string, size: number): Promise<string> => {
    const folder = ws.path(name);
    await mkdir(folder);
    await writeFile(join(folder, 'weights.bin'), randomBytes(size));
    return folder;
  };
  return { front: () => front, ws: () => ws, newModel };
}

describe.each(s3Servers())('uploads to $name', (server: S3ServerUnderTest) => {
  const middle = throughTheMiddle(server);

  it('go unhashed, under a signed Content-MD5 that matches the body', async () => {
    const [front, ws] = [middle.front(), middle.ws()];
    const seen: Array<{ headers: IncomingHttpHeaders; body: Buffer }> = [];
    front.alter({ when: UPLOAD, alter: (headers, body) => (seen.push({ headers, body }), { headers, body }) });
    try {
      await ws.json(['model', 'push', 'middle', 'seen', await middle.newModel('seen', 400_000), '--tag', 'v1']);
    } finally {
      front.alter(undefined);
    }
    expect(seen.length, 'no upload went through the middle: the case tested nothing').toBeGreaterThan(0);
    for (const { headers, body } of seen) {
      expect(headers['x-amz-content-sha256']).toBe('UNSIGNED-PAYLOAD');
      expect(headers['content-md5']).toBe(md5Of(body));
      expect(signedHeaders(headers)).toContain('content-md5');
      expect(signedHeaders(headers)).toContain('x-amz-content-sha256');
    }
  });
});

describe.each(checking)('uploads to $name changed by a man in the middle', (server: S3ServerUnderTest) => {
  const middle = throughTheMiddle(server);

  it('are refused when the body changed, and pushed whole once the middle stops', async () => {
    const [front, ws] = [middle.front(), middle.ws()];
    const model = await middle.newModel('changed', 400_000);
    const push = ['model', 'push', 'middle', 'changed', model, '--tag', 'v1'];
    front.alter({ when: UPLOAD, alter: (headers, body) => ({ headers, body: flipped(body) }) });
    try {
      const refused = await ws.run(push);
      expectUserError(refused, /refused the bytes sent to .*\/packs\/.*: they were changed on the way \(BadDigest\), and it stored nothing/);
      expect(refused.code).toBe(4);
      expect(front.lied, 'no upload was changed: the case tested nothing').toBeGreaterThan(0);
    } finally {
      front.alter(undefined);
    }
    expect((await ws.run(['inspect', 'real/changed:v1'])).code, 'the version is named although its bytes were refused').not.toBe(0);
    await ws.json(push);
    await ws.json(['verify', 'real']);
    const dest = ws.path('changed-out');
    await ws.json(['model', 'pull', 'real', 'changed', dest, '--tag', 'v1']);
    expect(await readFile(join(dest, 'weights.bin'))).toEqual(await readFile(join(model, 'weights.bin')));
  });

  it('are refused when the body changed together with its Content-MD5: the signature covers the MD5', async () => {
    const [front, ws] = [middle.front(), middle.ws()];
    const push = ['model', 'push', 'middle', 'forged', await middle.newModel('forged', 400_000), '--tag', 'v1'];
    front.alter({
      when: UPLOAD,
      alter: (headers, body) => {
        const forged = flipped(body);
        return { headers: { ...headers, 'content-md5': md5Of(forged) }, body: forged };
      },
    });
    try {
      expectUserError(await ws.run(push), /the signature did not match; a request changed on its way does that too/);
      expect(front.lied, 'no upload was changed: the case tested nothing').toBeGreaterThan(0);
    } finally {
      front.alter(undefined);
    }
    expect((await ws.run(['inspect', 'real/forged:v1'])).code, 'the version is named although its bytes were forged').not.toBe(0);
    await ws.json(['verify', 'real']);
  });
});
