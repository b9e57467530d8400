import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { EPOCH } from './modelpack.js';

// An OCI image layout written as one tar stream (what `skopeo copy oci-archive:` and `docker load` read). Entries are
// plain files with fixed owner and time, so the same content always makes the same tar. Writes wait for the output
// to take the bytes: memory holds a chunk or two, whatever the size of a layer.

export class LayoutTarWriter {
  private readonly pack = tar.pack();
  private readonly finished: Promise<void>;
  private failure?: unknown;
  /** Bytes of tar written so far: where the next entry's header starts. */
  private offset = 0;

  constructor(out: Writable) {
    this.finished = pipeline(this.pack, out);
    this.finished.catch((error: unknown) => (this.failure = error ?? new Error('the output closed')));
  }

  async addBytes(name: string, bytes: Buffer): Promise<number> {
    return this.addStream(name, bytes.length, [bytes]);
  }

  /**
   * An entry of exactly `size` bytes from `chunks` (tar-stream fails the entry if the count differs); returns where
   * its header starts. Names are plain ASCII of at most 100 bytes, so each entry is one header and its padded bytes.
   */
  async addStream(name: string, size: number, chunks: AsyncIterable<Buffer> | Iterable<Buffer>): Promise<number> {
    const headerAt = this.offset;
    this.offset += 512 + Math.ceil(size / 512) * 512;
    let settle!: (error?: unknown) => void;
    const written = new Promise<void>((resolve, reject) => (settle = (error) => (error ? reject(error) : resolve())));
    written.catch(() => undefined); // awaited below, unless the source fails first and the entry is destroyed with the tar
    // streamx's Writable, used through the Node Writable calls it implements.
    const entry = this.pack.entry({ name, size, mode: 0o644, uid: 0, gid: 0, mtime: EPOCH, type: 'file' }, (error) => settle(error)) as unknown as Writable;
    entry.on('error', () => undefined); // reported through the callback; an abort destroys the entry with its error
    for await (const chunk of chunks) {
      this.throwIfFailed();
      if (!entry.write(chunk)) await this.drained(entry);
    }
    entry.end();
    await Promise.race([written, this.finished]);
    this.throwIfFailed();
    return headerAt;
  }

  /** Ends the tar and waits until the output has every byte. */
  async finish(): Promise<void> {
    this.pack.finalize();
    await this.finished;
  }

  /** Stops writing: the output is left incomplete (the caller removes it). */
  abort(error: unknown): void {
    this.pack.destroy(error instanceof Error ? error : new Error(String(error)));
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  /** Waits for the entry to take more, or for the output to fail (a closed pipe never drains). */
  private drained(entry: Writable): Promise<void> {
    return Promise.race([new Promise<void>((resolve) => entry.once('drain', () => resolve())), this.finished]);
  }
}
