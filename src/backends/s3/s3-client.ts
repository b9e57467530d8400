// The AWS SDK client aim uses, its network settings, and the one retry loop every S3 operation goes through.
//
// Why our own retry loop instead of the SDK's: the SDK retries a request until the response headers arrive, but a
// GetObject body is read afterwards, outside its retries, so a connection that drops or stalls mid-body would fail
// the transfer. Here one attempt is "send + read the whole body", with its own deadline, and the SDK makes exactly
// one attempt per call (maxAttempts: 1) so attempts never multiply.
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { addAbortSignal, Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { S3Client } from '@aws-sdk/client-s3';
import { ConfigError } from '../../lib/errors.js';
import type { RepoLocation } from '../backend.js';
import { quietAwsSdkVersionWarning, type S3Settings } from '../../settings/s3.js';
import { log } from '../../lib/log.js';
import { errorCode, httpStatus, isRetryable, RetriesExhausted } from './s3-errors.js';
import { boundReplies } from './s3-reply-bounds.js';

export function createS3Client(location: RepoLocation, settings: S3Settings): S3Client {
  quietAwsSdkVersionWarning();
  // Many S3-compatible servers mishandle the SDK's newer default checksums (s3rver silently stores aws-chunked
  // framing inside streamed objects), so custom endpoints default to checksums only where an API requires them.
  const mode = location.checksums ?? (location.endpoint ? 'when_required' : undefined);
  if (mode !== undefined && mode !== 'when_required' && mode !== 'when_supported') {
    throw new ConfigError(`checksums: ${String(mode)} is not a checksum mode`, { hint: 'use when_required or when_supported (docs/s3.md)' });
  }
  const checksums = mode === undefined ? undefined : mode === 'when_required' ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED';
  const maxSockets = Math.max(50, (location.concurrency ?? 0) * 2);
  const client = new S3Client({
    region: location.region ?? (location.endpoint ? 'us-east-1' : undefined),
    endpoint: location.endpoint,
    forcePathStyle: location.endpoint !== undefined,
    // Credentials come only from the SDK's default chain (env, shared files with this profile, SSO, instance roles).
    profile: location.profile,
    requestChecksumCalculation: checksums,
    responseChecksumValidation: checksums,
    maxAttempts: 1,
    // NodeHttpHandler options, given as plain options so aim needs no direct @smithy dependency.
    requestHandler: {
      connectionTimeout: settings.connectTimeoutMs,
      requestTimeout: settings.requestTimeoutMs,
      throwOnRequestTimeout: true,
      socketTimeout: settings.idleTimeoutMs,
      httpAgent: new HttpAgent({ keepAlive: true, maxSockets }),
      httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets }),
    },
  });
  boundReplies(client);
  skipPayloadHashUnderMd5(client);
  return client;
}

/**
 * A request that carries a Content-MD5 goes with `x-amz-content-sha256: UNSIGNED-PAYLOAD`, as the AWS CLI sends its
 * uploads over HTTPS: the SDK would otherwise hash every byte with SHA-256 to sign it, and the server hash it again to
 * check, on top of the MD5 both compute. The body stays bound to the signature: Content-MD5 is a signed header, and
 * the server refuses a body that does not match it, so neither can be changed in transit, with or without TLS
 * (test/backends/s3-payload.test.ts tampers with both). Every upload aim makes carries one (S3Backend.write).
 */
function skipPayloadHashUnderMd5(client: S3Client): void {
  client.middlewareStack.add(
    (next) => async (args) => {
      const headers = (args.request as { headers?: Record<string, string> }).headers ?? {};
      const names = Object.keys(headers).map((name) => name.toLowerCase());
      // A payload hash set already (a streamed upload's trailer mode) is the SDK's to keep.
      if (names.includes('content-md5') && !names.includes('x-amz-content-sha256')) headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
      return next(args);
    },
    // The build step runs after the input is serialized into headers and before the signer reads them.
    { step: 'build', name: 'aimSkipPayloadHashUnderMd5' },
  );
}

/** Splits `s3://bucket/some/prefix` into the bucket and a key prefix ending in `/` (or empty). */
export function parseS3Path(path: string): { bucket: string; prefix: string } {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(path);
  if (!match) {
    throw new ConfigError(`${path} is not an S3 path`, { hint: 'write it as s3://bucket or s3://bucket/prefix' });
  }
  const segments = match[2].split('/').filter((segment) => segment !== '');
  return { bucket: match[1], prefix: segments.length > 0 ? `${segments.join('/')}/` : '' };
}

/** `SlowDown (503)`, `ECONNRESET`: what made an attempt fail, for the `request retried` event. */
function causeOf(failure: unknown): string {
  const status = httpStatus(failure);
  return status === undefined ? errorCode(failure) : `${errorCode(failure)} (${status})`;
}

class AttemptTimeout extends Error {
  override readonly name = 'TimeoutError';
  readonly code = 'ETIMEDOUT';
}

/**
 * Runs `attempt` until it succeeds, fails with a non-retryable error, or runs out of attempts (then throws
 * RetriesExhausted). Each attempt gets a signal that aborts at the attempt deadline; backoff is exponential with
 * full jitter so that many clients throttled together do not come back together.
 */
export async function withRetries<T>(settings: S3Settings, attempt: (signal: AbortSignal) => Promise<T>): Promise<T> {
  for (let n = 1; ; n++) {
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new AttemptTimeout(`no answer within ${settings.requestTimeoutMs} ms`)),
      settings.requestTimeoutMs,
    );
    try {
      return await untilAborted(attempt(controller.signal), controller.signal);
    } catch (error) {
      const failure: unknown = controller.signal.aborted ? controller.signal.reason : error;
      if (!isRetryable(failure)) throw failure;
      if (n >= settings.maxAttempts) throw new RetriesExhausted(failure, n);
      const delayMs = Math.round(Math.random() * Math.min(settings.retryMaxMs, settings.retryBaseMs * 2 ** (n - 1)));
      log.debug('request retried', { cause: causeOf(failure), attempt: n + 1, of: settings.maxAttempts, delayMs });
      await sleep(delayMs);
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * The attempt's outcome, or the signal's reason as soon as it fires, whichever comes first. Today every layer below
 * (the SDK's handler, our body readers) ends its work when the signal fires; this makes the deadline hold without
 * relying on that, so a server that trickles a reply a byte at a time can never keep an attempt going past it.
 */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

class TruncatedBody extends Error {
  override readonly name = 'TruncatedBody';
  readonly code = 'ECONNRESET';
}

/** Thrown when a reply is longer than its reader allows; an AimError, so it is never retried. */
export type TooLarge = (size: number | undefined) => Error;

/**
 * Hands each piece of a response body to `take`. The attempt's signal destroys a stalled stream; a body shorter than
 * its Content-Length (a connection closed early) is a TruncatedBody to retry, never data to return. A body longer
 * than `limit` is refused from its Content-Length before a byte is read, or as soon as it passes the limit.
 */
async function consumeBody(
  body: unknown,
  signal: AbortSignal,
  expected: number | undefined,
  take: (piece: Buffer) => void,
  limit?: { maxBytes: number; tooLarge: TooLarge },
): Promise<number> {
  if (body === undefined) return 0;
  if (!(body instanceof Readable)) throw new TypeError('the S3 client returned a body that is not a Node stream');
  addAbortSignal(signal, body);
  let total = 0;
  try {
    if (limit && expected !== undefined && expected > limit.maxBytes) throw limit.tooLarge(expected);
    for await (const piece of body) {
      total += (piece as Buffer).length;
      if (limit && total > limit.maxBytes) throw limit.tooLarge(expected);
      take(piece as Buffer);
    }
  } finally {
    body.destroy();
  }
  if (expected !== undefined && total !== expected) {
    throw new TruncatedBody(`response body ended after ${total} of ${expected} bytes`);
  }
  return total;
}

/** The whole body; at most `limit.maxBytes` of it, else `limit.tooLarge`. */
export async function readBody(body: unknown, signal: AbortSignal, expected: number | undefined, limit?: { maxBytes: number; tooLarge: TooLarge }): Promise<Buffer> {
  const pieces: Buffer[] = [];
  const total = await consumeBody(body, signal, expected, (piece) => pieces.push(piece), limit);
  return Buffer.concat(pieces, total);
}

/**
 * Copies body bytes [skip, skip + target.length) into `target` and returns how many were copied. A server owes us
 * no more than that: bytes past the window (a server ignoring Range, or sending more than asked) end the read.
 */
export async function readBodyInto(body: unknown, signal: AbortSignal, expected: number | undefined, target: Uint8Array, skip = 0): Promise<number> {
  let seen = 0;
  let copied = 0;
  const window = skip + target.length;
  const stop = new BodyWindowFull();
  try {
    await consumeBody(body, signal, expected, (piece) => {
      const from = Math.max(skip, seen);
      const to = Math.min(window, seen + piece.length);
      if (to > from) {
        target.set(piece.subarray(from - seen, to - seen), from - skip);
        copied = to - skip;
      }
      seen += piece.length;
      // Stop only past the window: a body that ends exactly there is read to its end, keeping the connection alive.
      if (seen > window) throw stop;
    });
  } catch (error) {
    if (error !== stop) throw error;
  }
  return copied;
}

/** Ends a read early once the caller's window is full; the connection is dropped, not drained. */
class BodyWindowFull extends Error {}

/**
 * Runs the tasks given for one key one after another, in call order; other keys go on in parallel. Writers in one
 * process then never race on a key: the last call wins whole, and a second upload of a chunk already in flight
 * becomes a cheap "already there". Some servers (s3rver) write objects in place, so two concurrent PUTs of one key
 * could otherwise interleave their bytes.
 */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const result = (this.tails.get(key) ?? Promise.resolve()).then(task, task);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }
}
