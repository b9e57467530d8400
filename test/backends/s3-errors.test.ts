// Error translation. Answers that s3rver cannot give (wrong region, bad keys, denied, 412 on a conditional write)
// come from the fault proxy replaying S3's documented error responses, so the real SDK parses them into the same
// error objects AWS would produce; the few failures that never reach a server are translated from data.
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { S3Backend } from '../../src/backends/s3/s3.js';
import { type S3Settings, s3Settings } from '../../src/settings/s3.js';
import { isRetryable, plainServerText, RetriesExhausted, type S3Where, translateS3Error } from '../../src/backends/s3/s3-errors.js';
import { AimError, ConfigError, ConflictError, StorageError } from '../../src/lib/errors.js';
import { type CannedAnswer, type FaultProxy, startFaultProxy } from '../helpers/fault-proxy.js';
import { useS3rverCredentials } from '../helpers/s3-server.js';

useS3rverCredentials();
const server = inject('s3');
const settings: S3Settings = { ...s3Settings({}), maxAttempts: 2, retryBaseMs: 5, retryMaxMs: 20 };

async function rejection(promise: Promise<unknown>): Promise<AimError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AimError);
  return error as AimError;
}

describe('S3 errors as the SDK parses them from S3 responses', () => {
  const prefix = `errors-${randomUUID()}`;
  let proxy: FaultProxy;
  let backend: S3Backend;
  const answer = (canned: CannedAnswer & { when?: RegExp }) => proxy.set({ answer: canned });
  beforeAll(async () => {
    proxy = await startFaultProxy({ host: '127.0.0.1', port: Number(new URL(server.endpoint).port) });
    backend = new S3Backend({ type: 's3', path: `s3://${server.bucket}/${prefix}`, endpoint: proxy.endpoint, region: 'us-east-1' }, settings);
  });
  afterEach(() => proxy.set({ answer: undefined }));
  afterAll(async () => {
    for await (const item of backend.list('')) await backend.delete(item.key);
    await backend.close();
    await proxy.stop();
  });

  const redirect: CannedAnswer = {
    status: 301,
    code: 'PermanentRedirect',
    message: 'The bucket you are attempting to access must be addressed using the specified endpoint. Please send all future requests to this endpoint.',
    headers: { 'x-amz-bucket-region': 'eu-west-1' },
    fields: { Endpoint: `${server.bucket}.s3.eu-west-1.amazonaws.com`, Bucket: server.bucket },
  };

  it('names the right region for a bucket in another one', async () => {
    answer(redirect);
    const error = await rejection(backend.get('blobs/x'));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toBe(`bucket ${server.bucket} is in region eu-west-1, not us-east-1`);
    expect(error.hint).toContain('--region eu-west-1');
    // HeadBucket's 301 has no body; the region comes from the header alone.
    const probe = await rejection(backend.probe('read'));
    expect(probe.message).toBe(`bucket ${server.bucket} is in region eu-west-1, not us-east-1`);
    answer({
      status: 400,
      code: 'AuthorizationHeaderMalformed',
      message: "The authorization header is malformed; the region 'us-east-1' is wrong; expecting 'ap-south-1'",
      fields: { Region: 'ap-south-1' },
    });
    const malformed = await rejection(backend.put('tags/x', Buffer.from('x')));
    expect(malformed).toBeInstanceOf(ConfigError);
    expect(malformed.message).toBe(`bucket ${server.bucket} is in region ap-south-1, not us-east-1`);
  });

  it('tells wrong keys, expired sessions and denied access apart', async () => {
    answer({ status: 403, code: 'InvalidAccessKeyId', message: 'The AWS Access Key Id you provided does not exist in our records.' });
    const key = await rejection(backend.get('blobs/x'));
    expect(key).toBeInstanceOf(StorageError);
    expect(key.message).toBe(
      `the S3 endpoint ${proxy.endpoint} rejected the AWS credentials: wrong access key id while trying to read s3://${server.bucket}/${prefix}/blobs/x`,
    );
    expect(key.hint).toContain('AWS_ACCESS_KEY_ID');
    answer({ status: 403, code: 'SignatureDoesNotMatch', message: 'The request signature we calculated does not match the signature you provided.' });
    expect((await rejection(backend.put('blobs/x', Buffer.from('x')))).message).toMatch(/wrong secret access key/);
    answer({ status: 400, code: 'ExpiredToken', message: 'The provided token has expired.' });
    expect((await rejection(backend.get('blobs/x'))).message).toMatch(/^the AWS session credentials have expired \(ExpiredToken\)/);
    answer({ status: 403, code: 'AccessDenied', message: 'Access Denied' });
    const denied = await rejection(backend.delete('blobs/x'));
    expect(denied.message).toBe(`access denied: cannot delete s3://${server.bucket}/${prefix}/blobs/x`);
    expect(denied.hint).toContain('s3:DeleteObject');
    // A HEAD denied (no body) is an error, not a missing object.
    expect((await rejection(backend.stat('blobs/x'))).message).toBe(`access denied: cannot read s3://${server.bucket}/${prefix}/blobs/x`);
  });

  it('retries server errors, then reports them with the attempt count', async () => {
    answer({ status: 500, code: 'InternalError', message: 'We encountered an internal error. Please try again.' });
    const before = proxy.stats.requests;
    const error = await rejection(backend.get('blobs/x'));
    expect(proxy.stats.requests - before).toBe(2);
    expect(error.message).toBe(
      `the S3 endpoint ${proxy.endpoint} failed with 500 InternalError while trying to read s3://${server.bucket}/${prefix}/blobs/x (after 2 attempts)`,
    );
  });

  it('treats a failed If-None-Match as "already there" and a failed If-Match as a conflict', async () => {
    answer({ status: 412, code: 'PreconditionFailed', message: 'At least one of the pre-conditions you specified did not hold', when: /^PUT [^]*\r\nif-none-match: \*/i });
    expect(await backend.putIfAbsent('blobs/raced', Buffer.from('same bytes'))).toBe(false);
    proxy.set({ answer: undefined });
    await backend.putIfVersion('tags/v1', Buffer.from('mine'), undefined);
    const current = await backend.getVersioned('tags/v1');
    answer({ status: 412, code: 'PreconditionFailed', message: 'At least one of the pre-conditions you specified did not hold', when: /^PUT [^]*\r\nif-match:/i });
    const error = await rejection(backend.putIfVersion('tags/v1', Buffer.from('theirs'), current!.version));
    expect(error).toBeInstanceOf(ConflictError);
    expect(error.message).toBe(`tags/v1 in s3://${server.bucket}/${prefix} was changed by another writer`);
  });

  it('falls back to plain PUTs on a server that does not implement conditional writes', async () => {
    answer({ status: 501, code: 'NotImplemented', message: 'A header you provided implies functionality that is not implemented', when: /^PUT [^]*\r\nif-none-match:/i });
    const other = new S3Backend({ type: 's3', path: `s3://${server.bucket}/${prefix}`, endpoint: proxy.endpoint }, settings);
    expect(await other.putIfAbsent('blobs/plain', Buffer.from('plain'))).toBe(true);
    expect((await other.get('blobs/plain')).toString()).toBe('plain');
    const before = proxy.stats.requests;
    expect(await other.putIfAbsent('blobs/plain2', Buffer.from('plain2'))).toBe(true);
    expect(proxy.stats.requests - before).toBe(2); // HEAD and one plain PUT: the fallback is remembered
    await other.close();
  });
});

describe('translating failures that never reach a server', () => {
  const where: S3Where = { location: 's3://bucket/team', bucket: 'bucket', key: 'blobs/x', region: 'us-east-1' };

  it('explains missing credentials, with or without a profile', () => {
    const noCredentials = Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError', tryNextLink: false });
    const error = translateS3Error(noCredentials, 'read', where);
    expect(error).toBeInstanceOf(StorageError);
    expect(error.message).toBe('no AWS credentials found to read s3://bucket/team/blobs/x');
    expect(error.hint).toMatch(/AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE/);
    expect(translateS3Error(noCredentials, 'read', { ...where, profile: 'ml' }).hint).toMatch(/profile "ml"/);
  });

  it('explains unknown hosts, refused connections and timeouts', () => {
    const dns = Object.assign(new Error('getaddrinfo ENOTFOUND minio.internal'), { code: 'ENOTFOUND', syscall: 'getaddrinfo', hostname: 'minio.internal' });
    const atEndpoint = { ...where, endpoint: 'http://minio.internal:9000' };
    expect(translateS3Error(dns, 'write', atEndpoint).message).toBe(
      'cannot write s3://bucket/team/blobs/x: host not found talking to http://minio.internal:9000',
    );
    const refused = new AggregateError([Object.assign(new Error('connect ECONNREFUSED ::1:9000'), { code: 'ECONNREFUSED' })], '');
    expect(translateS3Error(refused, 'list', atEndpoint).message).toMatch(/: connection refused talking to/);
    const timeout = Object.assign(new Error('a request has exceeded the configured 1000 ms requestTimeout'), { name: 'TimeoutError', code: 'ETIMEDOUT' });
    expect(translateS3Error(new RetriesExhausted(timeout, 6), 'read', where).message).toBe(
      'cannot read s3://bucket/team/blobs/x: the request timed out (after 6 attempts)',
    );
  });

  it('asks for a region when none is configured anywhere', () => {
    const error = translateS3Error(new Error('Region is missing'), 'check', { ...where, key: undefined, region: undefined });
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.hint).toContain('--region <region>');
  });

  it('retries only what another attempt can fix', () => {
    const service = (name: string, status: number) => Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });
    expect(isRetryable(service('SlowDown', 503))).toBe(true);
    expect(isRetryable(service('InternalError', 500))).toBe(true);
    expect(isRetryable(service('TooManyRequestsException', 429))).toBe(true);
    expect(isRetryable(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isRetryable(service('NoSuchKey', 404))).toBe(false);
    expect(isRetryable(service('AccessDenied', 403))).toBe(false);
    expect(isRetryable(service('PreconditionFailed', 412))).toBe(false);
    expect(isRetryable(Object.assign(new Error('getaddrinfo ENOTFOUND x'), { code: 'ENOTFOUND' }))).toBe(false);
    expect(isRetryable(new ConfigError('bad'))).toBe(false);
  });
});

describe('server text in messages', () => {
  it('shows control characters as \\xNN and cuts long text, so a server cannot drive the terminal', () => {
    expect(plainServerText('ok\u001b[2J\u001b]0;t\u0007\r\n\u009b')).toBe('ok\\x1b[2J\\x1b]0;t\\x07\\x0d\\x0a\\x9b');
    expect(plainServerText('x'.repeat(500))).toBe(`${'x'.repeat(200)}...`);
    const where: S3Where = { location: 's3://b/p', bucket: 'b', key: 'k', endpoint: 'http://127.0.0.1:1' };
    const hostile = Object.assign(new Error('gone \u001b[31mred'), { name: 'Weird\u001bCode', $metadata: { httpStatusCode: 400 } });
    const message = translateS3Error(hostile, 'read', where).message;
    expect(message).toBe('cannot read s3://b/p/k: Weird\\x1bCode: gone \\x1b[31mred');
  });
});
