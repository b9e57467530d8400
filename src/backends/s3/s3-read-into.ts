import { readBodyInto } from './s3-client.js';
import { type ObjectReader, serviceErrorOf } from './s3-lean-get.js';
import { RawGetter, type RawGetOptions } from './s3-raw-get.js';
import { RawUnsupported, type ReplyHead } from './s3-raw-reply.js';

/**
 * Chunk reads into the caller's buffer: over plain HTTP through RawGetter (s3-raw-get.ts, the cheapest way in CPU),
 * else through the lean GetObject. The first answer RawGetter cannot parse sends that read, and every later one, the
 * lean way: a server that chunks or omits lengths does so for every object.
 */
export class BufferReader {
  private raw: RawGetter | undefined;

  constructor(
    private readonly reader: ObjectReader,
    options: RawGetOptions,
  ) {
    this.raw = new RawGetter(options);
  }

  /** Bytes of `key` from `offset` into `target` (only target.length of them when `ranged`); returns how many. */
  async readInto(bucket: string, key: string, target: Uint8Array, offset: number, ranged: boolean, signal: AbortSignal): Promise<number> {
    // Always an explicit first-last range: suffix ranges (bytes=-N) return wrong bytes on s3rver.
    const range = ranged ? `bytes=${offset}-${offset + target.length - 1}` : undefined;
    const raw = this.raw && (await this.reader.signedRequest(bucket, key, range));
    if (this.raw && raw?.protocol === 'http:') {
      // A server that ignores Range answers 200 with the whole object; skip to the offset ourselves.
      const skipFor = (head: ReplyHead) => (range && head.status === 200 && head.headers['content-range'] === undefined ? offset : 0);
      try {
        const { head, copied, errorText } = await this.raw.get(raw, target, skipFor, signal);
        if (errorText !== undefined) throw serviceErrorOf(head.status, head.headers, errorText);
        return copied;
      } catch (error) {
        if (!(error instanceof RawUnsupported)) throw error;
        this.raw.close();
        this.raw = undefined;
      }
    }
    const out = await this.reader.get(bucket, key, range, signal);
    return readBodyInto(out.body, signal, out.contentLength, target, range && !out.contentRange ? offset : 0);
  }

  close(): void {
    this.raw?.close();
  }
}
