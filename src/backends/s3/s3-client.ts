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
import { isRetryable, RetriesExhausted } from './s3-errors.js';

/** Network behaviour; every field can be overridden by an environment variable (docs/s3.md lists them). */
export interface S3Settings {
  /** AIM_S3_MAX_ATTEMPTS: tries per operation, the first included. */
  maxAttempts: number;
  /** AIM_S3_REQUEST_TIMEOUT_MS: deadline for one attempt, from sending to the last body byte. */
  requestTimeoutMs: number;
  /** AIM_S3_IDLE_TIMEOUT_MS: a connection that moves no byte for this long is stalled; the attempt is retried. */
  idleTimeoutMs: number;
  /** AIM_S3_CONNECT_TIMEOUT_MS: TCP (and TLS) connect. */
  connectTimeoutMs: number;
  /** AIM_S3_RETRY_BASE_MS: first backoff; it doubles per attempt up to AIM_S3_RETRY_MAX_MS, with full jitter. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** AIM_S3_LIST_PAGE_SIZE: MaxKeys per ListObjectsV2 page (S3 caps it at 1000). */
  listPageSize: number;
}

const defaults: S3Settings = {
  maxAttempts: 6,
  requestTimeoutMs: 300_000,
  idleTimeoutMs: 30_000,
  connectTimeoutMs: 10_000,
  retryBaseMs: 200,
  retryMaxMs: 10_000,
  listPageSize: 1000,
};

const envNames: Record<keyof S3Settings, string> = {
  maxAttempts: 'AIM_S3_MAX_ATTEMPTS',
  requestTimeoutMs: 'AIM_S3_REQUEST_TIMEOUT_MS',
  idleTimeoutMs: 'AIM_S3_IDLE_TIMEOUT_MS',
  connectTimeoutMs: 'AIM_S3_CONNECT_TIMEOUT_MS',
  retryBaseMs: 'AIM_S3_RETRY_BASE_MS',
  retryMaxMs: 'AIM_S3_RETRY_MAX_MS',
  listPageSize: 'AIM_S3_LIST_PAGE_SIZE',
};

/** Defaults overridden by AIM_S3_* variables; a bad value is a ConfigError naming every bad variable. */
export function s3SettingsFromEnv(env: NodeJS.ProcessEnv = process.env): S3Settings {
  const settings = { ...defaults };
  const problems: string[] = [];
  for (const field of Object.keys(envNames) as (keyof S3Settings)[]) {
    const raw = env[envNames[field]];
    if (raw === undefined || raw === '') continue;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 1) problems.push(`${envNames[field]}="${raw}"`);
    else settings[field] = value;
  }
  if (problems.length > 0) {
    throw new ConfigError(`${problems.join(', ')}: must be a whole number of at least 1`, {
      hint: 'fix or unset these variables (docs/s3.md lists them)',
    });
  }
  settings.listPageSize = Math.min(settings.listPageSize, 1000);
  return settings;
}

export function createS3Client(location: RepoLocation, settings: S3Settings): S3Client {
  // The SDK warns on every run under Node 20 about its future Node 22 requirement; that is noise for aim's users.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  // Many S3-compatible servers mishandle the SDK's newer default checksums (s3rver silently stores aws-chunked
  // framing inside streamed objects), so custom endpoints default to checksums only where an API requires them.
  const mode = location.checksums ?? (location.endpoint ? 'when_required' : undefined);
  if (mode !== undefined && mode !== 'when_required' && mode !== 'when_supported') {
    throw new ConfigError(`checksums: ${String(mode)} is not a checksum mode`, { hint: 'use when_required or when_supported (docs/s3.md)' });
  }
  const checksums = mode === undefined ? undefined : mode === 'when_required' ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED';
  const maxSockets = Math.max(50, (location.concurrency ?? 0) * 2);
  return new S3Client({
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
      return await attempt(controller.signal);
    } catch (error) {
      const failure: unknown = controller.signal.aborted ? controller.signal.reason : error;
      if (!isRetryable(failure)) throw failure;
      if (n >= settings.maxAttempts) throw new RetriesExhausted(failure, n);
      await sleep(Math.random() * Math.min(settings.retryMaxMs, settings.retryBaseMs * 2 ** (n - 1)));
    } finally {
      clearTimeout(timer);
    }
  }
}

class TruncatedBody extends Error {
  override readonly name = 'TruncatedBody';
  readonly code = 'ECONNRESET';
}

/**
 * Hands each piece of a response body to `take`. The attempt's signal destroys a stalled stream; a body shorter than
 * its Content-Length (a connection closed early) is a TruncatedBody to retry, never data to return.
 */
async function consumeBody(body: unknown, signal: AbortSignal, expected: number | undefined, take: (piece: Buffer) => void): Promise<number> {
  if (body === undefined) return 0;
  if (!(body instanceof Readable)) throw new TypeError('the S3 client returned a body that is not a Node stream');
  addAbortSignal(signal, body);
  let total = 0;
  try {
    for await (const piece of body) {
      take(piece as Buffer);
      total += (piece as Buffer).length;
    }
  } finally {
    body.destroy();
  }
  if (expected !== undefined && total !== expected) {
    throw new TruncatedBody(`response body ended after ${total} of ${expected} bytes`);
  }
  return total;
}

export async function readBody(body: unknown, signal: AbortSignal, expected: number | undefined): Promise<Buffer> {
  const pieces: Buffer[] = [];
  const total = await consumeBody(body, signal, expected, (piece) => pieces.push(piece));
  return Buffer.concat(pieces, total);
}

/** Copies body bytes [skip, skip + target.length) into `target` (the rest is read and dropped); returns bytes copied. */
export async function readBodyInto(body: unknown, signal: AbortSignal, expected: number | undefined, target: Uint8Array, skip = 0): Promise<number> {
  let seen = 0;
  let copied = 0;
  await consumeBody(body, signal, expected, (piece) => {
    const from = Math.max(skip, seen);
    const to = Math.min(skip + target.length, seen + piece.length);
    if (to > from) {
      target.set(piece.subarray(from - seen, to - seen), from - skip);
      copied = to - skip;
    }
    seen += piece.length;
  });
  return copied;
}

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
