// Compare-and-swap of one S3 object (a tag) by its ETag, made to behave alike on AWS S3, on Ceph's radosgw and on
// servers that ignore conditional headers.
import { ConflictError, NotFoundError } from '../../lib/errors.js';
import { ObjectTooLargeError } from '../backend.js';

export interface Conditions {
  IfNoneMatch?: string;
  IfMatch?: string;
}

/** What the swap needs from the backend: each call already retried and translated into aim's errors. */
export interface SwapTarget {
  location(): string;
  /** The object's current ETag as HEAD returns it (quoted), or undefined when it does not exist. */
  version(key: string): Promise<string | undefined>;
  write(key: string, data: Uint8Array, conditions: Conditions): Promise<void>;
  read(key: string, maxBytes: number): Promise<{ data: Buffer } | undefined>;
}

export class CompareAndSwap {
  /** Set once the server refused a quoted ETag in If-Match that was current (see writeIfMatch). */
  private bareIfMatch = false;

  constructor(private readonly target: SwapTarget) {}

  /** Writes `data` if the object's ETag is still `expected` (undefined: it must not exist); else a ConflictError. */
  async swap(key: string, data: Uint8Array, expected: string | undefined): Promise<void> {
    // Checking first catches a stale writer even on servers that ignore If-Match.
    if ((await this.target.version(key)) !== expected) throw this.conflict(key);
    try {
      if (expected === undefined) await this.target.write(key, data, { IfNoneMatch: '*' });
      else await this.writeIfMatch(key, data, expected);
    } catch (error) {
      // If-Match on a key deleted meanwhile answers 404 on AWS (412 on Ceph): also a lost race.
      if (!(error instanceof ConflictError) && !(error instanceof NotFoundError)) throw error;
      // A retried PUT fails its condition when our own earlier attempt landed: that is success, not a conflict.
      // A longer object there is another writer's, not ours: a conflict, not damage.
      const now = await this.target.read(key, data.length).catch((readError: unknown) => {
        if (readError instanceof ObjectTooLargeError) return undefined;
        throw readError;
      });
      if (!now || !now.data.equals(data)) throw this.conflict(key);
    }
  }

  /**
   * PUT with If-Match in the form the server honours. RFC 7232 and AWS S3 take the ETag quoted, as HEAD and GET
   * return it; Ceph's radosgw 16 (and DigitalOcean Spaces) answer every quoted If-Match on a PUT with 412 and accept
   * only the bare value. A 412 while the object still carries the expected ETag cannot be a lost race, only that
   * quirk: the write is sent again with the bare ETag, and this server gets it bare from then on.
   */
  private async writeIfMatch(key: string, data: Uint8Array, etag: string): Promise<void> {
    const bare = etag.replace(/^"(.*)"$/, '$1');
    if (this.bareIfMatch) return this.target.write(key, data, { IfMatch: bare });
    try {
      await this.target.write(key, data, { IfMatch: etag });
    } catch (error) {
      if (!(error instanceof ConflictError) || bare === etag || (await this.target.version(key)) !== etag) throw error;
      await this.target.write(key, data, { IfMatch: bare });
      this.bareIfMatch = true;
    }
  }

  private conflict(key: string): ConflictError {
    return new ConflictError(`${key} in ${this.target.location()} was changed by another writer`, {
      hint: 'run the command again; it re-reads the current value',
    });
  }
}
