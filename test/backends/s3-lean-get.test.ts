// The lean GetObject signs its own requests. s3rver accepts any signature, so this checks the signature the way S3
// does: a local HTTP server records the request and the test recomputes AWS Signature Version 4 from it with
// node:crypto, following the published algorithm (canonical request, string to sign, HMAC key chain).
import { createHash, createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3Backend } from '../../src/backends/s3/s3.js';
import { ObjectReader } from '../../src/backends/s3/s3-lean-get.js';
import { NotFoundError } from '../../src/lib/errors.js';

const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const hmac = (key: Buffer | string, text: string) => createHmac('sha256', key).update(text).digest();

/** The SigV4 signature S3 would expect for this request, recomputed from what arrived. */
function expectedSignature(method: string, path: string, headers: IncomingHttpHeaders): string {
  const authorization = String(headers.authorization);
  const scope = /Credential=[^/]+\/([^,]+),/.exec(authorization)![1]!;
  const signedHeaders = /SignedHeaders=([^,]+),/.exec(authorization)![1]!;
  const [date, region, service] = scope.split('/');
  const canonicalHeaders = signedHeaders.split(';').map((name) => `${name}:${String(headers[name]).trim()}\n`).join('');
  const canonicalRequest = [method, path, '', canonicalHeaders, signedHeaders, String(headers['x-amz-content-sha256'])].join('\n');
  const stringToSign = ['AWS4-HMAC-SHA256', String(headers['x-amz-date']), scope, sha256(canonicalRequest)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${SECRET}`, date!), region!), service!), 'aws4_request');
  return hmac(key, stringToSign).toString('hex');
}

describe('lean GetObject (ObjectReader)', () => {
  let server: Server;
  let seen: { method: string; path: string; headers: IncomingHttpHeaders } | undefined;
  let client: S3Client;
  let endpoint: string;
  /** What the server answers next, when not the default 200 "ok". */
  let answer: { status: number; body: string } | undefined;

  beforeAll(async () => {
    server = createServer((request, response) => {
      seen = { method: request.method!, path: request.url!, headers: request.headers };
      if (answer) response.writeHead(answer.status, { 'content-length': String(Buffer.byteLength(answer.body)) }).end(answer.body);
      else response.writeHead(200, { 'content-length': '2', etag: '"abc"' }).end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    endpoint = `http://127.0.0.1:${port}`;
    client = new S3Client({
      region: 'eu-west-3',
      endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: SECRET },
    });
  });
  afterAll(async () => {
    client.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  it('sends a request signed as S3 checks it, with the SDK path encoding, the range signed too', async () => {
    const response = await new ObjectReader(client).send('bucket', "team x/blobs/a(1)!", 'bytes=0-1', new AbortController().signal);
    expect(response?.etag).toBe('"abc"');
    let body = '';
    for await (const piece of response!.body) body += String(piece);
    expect(body).toBe('ok');
    const { method, path, headers } = seen!;
    expect(method).toBe('GET');
    expect(path).toBe('/bucket/team%20x/blobs/a%281%29%21');
    expect(headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-3\/s3\/aws4_request, /);
    expect(String(headers.authorization)).toMatch(/SignedHeaders=[^,]*\brange\b/);
    expect(headers['x-amz-content-sha256']).toBe(sha256(''));
    expect(String(headers.authorization)).toContain(`Signature=${expectedSignature(method, path, headers)}`);
  });

  it('steps aside for endpoints that need more than SigV4, leaving them to the SDK', async () => {
    // Resolved by the SDK's endpoint rules alone, without a request: SigV4a for a multi-region access point, the
    // session-based scheme for an S3 Express directory bucket.
    const aws = new S3Client({ region: 'us-east-1', credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: SECRET } });
    const reader = new ObjectReader(aws);
    const signal = new AbortController().signal;
    expect(await reader.send('arn:aws:s3::123456789012:accesspoint/mfzwi23gnjvgw.mrap', 'k', undefined, signal)).toBeUndefined();
    expect(await reader.send('models--use1-az4--x-s3', 'k', undefined, signal)).toBeUndefined();
    aws.destroy();
  });

  it('signs with the clock offset the SDK learned from a server that said our clock is wrong', async () => {
    client.config.systemClockOffset = 3_600_000;
    try {
      const response = await new ObjectReader(client).send('bucket', 'k', undefined, new AbortController().signal);
      for await (const piece of response!.body) void piece;
      const [, y, mo, d, h, mi, sec] = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(String(seen!.headers['x-amz-date']))!;
      const signedAt = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec));
      expect(Math.abs(signedAt - (Date.now() + 3_600_000))).toBeLessThan(60_000);
    } finally {
      client.config.systemClockOffset = 0;
    }
  });

  it('is the path S3Backend reads take (the SDK would add ?x-id=GetObject), and maps answers as the SDK does', async () => {
    const backend = new S3Backend(
      { type: 's3', path: 's3://bucket/team', endpoint, region: 'eu-west-3' },
      { maxAttempts: 1, requestTimeoutMs: 5_000, idleTimeoutMs: 5_000, connectTimeoutMs: 5_000, retryBaseMs: 1, retryMaxMs: 1, listPageSize: 1000 },
    );
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: SECRET });
    try {
      answer = undefined;
      expect((await backend.get('blobs/x')).toString()).toBe('ok');
      expect(seen!.path).toBe('/bucket/team/blobs/x');
      answer = { status: 404, body: '' }; // a 404 without the XML body still means missing
      await expect(backend.get('blobs/gone')).rejects.toBeInstanceOf(NotFoundError);
      answer = { status: 403, body: '<Error><Code>AccessDenied</Code><Message>Access &amp; more denied</Message></Error>' };
      await expect(backend.get('blobs/x')).rejects.toThrow(/^access denied: cannot read s3:\/\/bucket\/team\/blobs\/x$/);
    } finally {
      answer = undefined;
      await backend.close();
      for (const [name, value] of [['AWS_ACCESS_KEY_ID', saved.id], ['AWS_SECRET_ACCESS_KEY', saved.secret]] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });
});
