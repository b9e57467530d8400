import { createHash, randomUUID } from 'node:crypto';
import { DeleteObjectCommand, HeadBucketCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ConflictError } from '../../lib/errors.js';
import { type Backend, type ConditionalPut, MAX_OBJECT_BYTES, type ObjectInfo, objectTooLarge, type RepoLocation } from '../backend.js';
import { createS3Client, KeyedQueue, parseS3Path, readBody, withRetries } from './s3-client.js';
import { type S3Settings, s3Settings } from '../../settings/s3.js';
import { errorCode, httpStatus, type S3Where, translateS3Error } from './s3-errors.js';
import { ObjectReader } from './s3-lean-get.js';
import { listObjects } from './s3-list.js';
import { BufferReader } from './s3-read-into.js';
import { CompareAndSwap } from './s3-swap.js';

const SIZE_METADATA = 'aim-size';
const isMissing = (error: unknown) => ['NotFound', 'NoSuchKey'].includes(errorCode(error));

/**
 * A repository under a bucket prefix on AWS S3 or an S3-compatible server. Every write is one PutObject of a Buffer
 * (objects are chunks of at most a few MiB), which S3 makes visible all at once or not at all.
 *
 * Conditional writes (`IfNoneMatch: '*'`, `IfMatch: etag`) make putIfAbsent and putIfVersion atomic on AWS S3 and
 * servers that enforce them (Ceph's radosgw too, with the ETag bare: see s3-swap.ts). Some servers (s3rver, and
 * others) ignore those headers: the same code then still works, but two writers racing on one tag can both succeed
 * and the last one wins (docs/s3.md). putIfVersion checks the current ETag first, which narrows that window but
 * cannot close it.
 *
 * Nothing a server answers is trusted for size or shape: whole-object reads are bounded by what the caller expects
 * (Backend.get's maxBytes), other replies by s3-reply-bounds.ts, listings by s3-list.ts, every attempt by a deadline.
 */
export class S3Backend implements Backend, ConditionalPut {
  readonly location: string;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly client: S3Client;
  private readonly settings: S3Settings;
  private readonly where: S3Where;
  /** Cleared when the server rejects conditional headers as not implemented; then plain PUTs are used. */
  private conditionalHeaders = true;
  private readonly writes = new KeyedQueue();
  private readonly swapper = new CompareAndSwap({
    location: () => this.location,
    version: async (key) => (await this.head(key))?.version,
    write: (key, data, conditions) => this.write(key, data, conditions),
    read: (key, maxBytes) => this.getVersioned(key, maxBytes),
  });
  /** GetObject without the SDK's per-request middleware where the endpoint allows it (s3-lean-get.ts). */
  private readonly reader: ObjectReader;
  private readonly buffers: BufferReader;

  constructor(location: RepoLocation, settings: S3Settings = s3Settings()) {
    const { bucket, prefix } = parseS3Path(location.path);
    this.bucket = bucket;
    this.prefix = prefix;
    this.location = `s3://${bucket}${prefix ? `/${prefix.slice(0, -1)}` : ''}`;
    this.settings = settings;
    this.client = createS3Client(location, settings);
    this.reader = new ObjectReader(this.client);
    this.buffers = new BufferReader(this.reader, { connectTimeoutMs: settings.connectTimeoutMs, idleTimeoutMs: settings.idleTimeoutMs, maxIdle: 50 });
    this.where = { location: this.location, bucket, endpoint: location.endpoint, region: location.region, profile: location.profile };
  }

  /** Runs one operation with retries and translates whatever finally fails, once. */
  private async run<T>(op: string, key: string | undefined, attempt: (signal: AbortSignal) => Promise<T>): Promise<T> {
    try {
      return await withRetries(this.settings, attempt);
    } catch (error) {
      throw translateS3Error(error, op, { ...this.where, key });
    }
  }

  async probe(mode: 'read' | 'write'): Promise<void> {
    await this.run('check', undefined, (abortSignal) =>
      this.client.send(new HeadBucketCommand({ Bucket: this.bucket }), { abortSignal }),
    );
    if (mode === 'write') {
      const key = `.aim-probe-${randomUUID()}`;
      await this.put(key, Buffer.from('aim write probe\n'));
      await this.delete(key);
    }
  }

  async get(key: string, maxBytes = MAX_OBJECT_BYTES): Promise<Buffer> {
    return (await this.getWithVersion(key, maxBytes)).data;
  }

  /** The object and its ETag; one larger than `maxBytes` is refused from its Content-Length, unread. */
  private async getWithVersion(key: string, maxBytes: number): Promise<{ data: Buffer; version: string }> {
    const tooLarge = (size: number | undefined) => objectTooLarge(this.location, key, size, maxBytes);
    return this.run('read', key, async (abortSignal) => {
      const out = await this.reader.get(this.bucket, this.prefix + key, undefined, abortSignal);
      return { data: await readBody(out.body, abortSignal, out.contentLength, { maxBytes, tooLarge }), version: out.etag ?? '' };
    });
  }

  async getRange(key: string, offset: number, length: number): Promise<Buffer> {
    if (length <= 0) {
      if (!(await this.stat(key))) await this.get(key); // throws the usual NotFoundError
      return Buffer.alloc(0);
    }
    const buffer = Buffer.allocUnsafe(length);
    return buffer.subarray(0, await this.readRange(key, buffer, offset, true));
  }

  async readInto(key: string, target: Uint8Array, offset?: number): Promise<number> {
    if (target.length === 0) return (await this.getRange(key, offset ?? 0, 0)).length;
    // Without an offset the caller wants the whole object (a loose chunk into a buffer of its size): no Range header.
    // With one, even 0, only target.length bytes: the first run of a pack must not fetch the whole pack.
    return this.readRange(key, target, offset ?? 0, offset !== undefined);
  }

  /** Bytes from `offset` into `target`; past the end reads as 0 bytes. */
  private readRange(key: string, target: Uint8Array, offset: number, ranged: boolean): Promise<number> {
    return this.run('read', key, async (abortSignal) => {
      try {
        return await this.buffers.readInto(this.bucket, this.prefix + key, target, offset, ranged, abortSignal);
      } catch (error) {
        if (errorCode(error) === 'InvalidRange' || httpStatus(error) === 416) return 0;
        throw error;
      }
    });
  }

  /**
   * Answers only for objects known to be whole. An object without aim's size record reads as absent: it is either
   * the remnant of a killed first upload on a server that keeps partial bodies (s3rver), or was copied in by another
   * tool. Either way the caller then offers the bytes to putIfAbsent, which keeps a copy of the right size and
   * rewrites a remnant, so a resumed push can never build on a truncated chunk.
   */
  async stat(key: string): Promise<ObjectInfo | undefined> {
    const head = await this.head(key);
    return head && head.recorded === head.size ? { key, size: head.size } : undefined;
  }

  /**
   * Every PUT records its length in the `aim-size` metadata. S3 never stores part of a PUT, but some S3-compatible
   * servers (s3rver) keep the truncated body of an upload whose connection dropped, next to the metadata of the
   * previous write if there was one. A recorded length that differs from the stored one exposes such a remnant.
   */
  private async head(key: string): Promise<{ size: number; version: string; recorded?: number } | undefined> {
    return this.run('read', key, async (abortSignal) => {
      try {
        const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }), { abortSignal });
        const size = out.ContentLength ?? 0;
        const recorded = out.Metadata?.[SIZE_METADATA];
        return { size, version: out.ETag ?? '', recorded: recorded === undefined ? undefined : Number(recorded) };
      } catch (error) {
        if (isMissing(error)) return undefined;
        throw error;
      }
    });
  }

  /**
   * HEAD, then PUT with If-None-Match. The HEAD saves uploading bytes that are already there (dedupe and resume);
   * the condition settles a race between two writers where the server enforces it, and where it does not, both
   * writers store the same bytes under a content-addressed key. An existing object is rewritten only when it is
   * a remnant: truncated per its metadata, or without metadata (the first write failed on s3rver) and of another
   * size than these bytes, which a content-addressed key cannot legitimately hold.
   */
  putIfAbsent(key: string, data: Uint8Array): Promise<boolean> {
    return this.writes.run(key, () => this.createIfAbsent(key, data));
  }

  private async createIfAbsent(key: string, data: Uint8Array): Promise<boolean> {
    const existing = await this.head(key);
    if (existing && (existing.recorded ?? data.length) === existing.size) return false;
    try {
      await this.write(key, data, existing ? {} : { IfNoneMatch: '*' });
      return true;
    } catch (error) {
      if (error instanceof ConflictError) return false; // another writer stored it first
      throw error;
    }
  }

  put(key: string, data: Uint8Array): Promise<void> {
    return this.writes.run(key, () => this.write(key, data, {}));
  }

  /** One PutObject with a Content-MD5 (S3 rejects a body damaged in transit), retried as a whole. */
  private async write(key: string, data: Uint8Array, conditions: { IfNoneMatch?: string; IfMatch?: string }): Promise<void> {
    const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const md5 = createHash('md5').update(body).digest('base64');
    const send = (abortSignal: AbortSignal, withConditions: boolean) =>
      this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.prefix + key,
          Body: body,
          ContentLength: body.length,
          ContentMD5: md5,
          Metadata: { [SIZE_METADATA]: String(body.length) },
          ...(withConditions ? conditions : {}),
        }),
        { abortSignal },
      );
    await this.run('write', key, async (abortSignal) => {
      const conditional = this.conditionalHeaders && Object.keys(conditions).length > 0;
      try {
        await send(abortSignal, conditional);
      } catch (error) {
        if (!conditional || errorCode(error) !== 'NotImplemented') throw error;
        this.conditionalHeaders = false;
        await send(abortSignal, false);
      }
    });
  }

  list(prefix: string): AsyncIterable<ObjectInfo> {
    return listObjects({
      client: this.client,
      bucket: this.bucket,
      root: this.prefix,
      prefix,
      pageSize: this.settings.listPageSize,
      location: this.location,
      send: (attempt) => this.run('list', prefix, attempt),
    });
  }

  delete(key: string): Promise<void> {
    return this.writes.run(key, () => this.remove(key));
  }

  private async remove(key: string): Promise<void> {
    await this.run('delete', key, async (abortSignal) => {
      try {
        await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }), { abortSignal });
      } catch (error) {
        if (!isMissing(error)) throw error;
      }
    });
  }

  async getVersioned(key: string, maxBytes = MAX_OBJECT_BYTES): Promise<{ data: Buffer; version: string } | undefined> {
    return this.getWithVersion(key, maxBytes).catch((error: unknown) => {
      if (isMissing((error as Error).cause)) return undefined;
      throw error;
    });
  }

  putIfVersion(key: string, data: Uint8Array, expected: string | undefined): Promise<void> {
    return this.writes.run(key, () => this.swapper.swap(key, data, expected));
  }

  async close(): Promise<void> {
    this.buffers.close();
    this.client.destroy();
  }
}
