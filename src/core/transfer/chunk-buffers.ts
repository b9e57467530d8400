import type { Digest } from '../format/digest.js';
import { bufferForDirectWrite, VIEW_SLACK, viewForPosition } from '../../lib/direct-io.js';
import { PACK_TARGET_BYTES, type ChunkLocations } from '../store/packs.js';

/**
 * A ranged read of up to half a pack replaces that many chunk requests. Against s3rver, 2 GiB pulled in runs of
 * 8 MiB took 6.3-7.3 s and in runs of 16 MiB (a whole pack) 6.5-8.7 s, with 30-40 MiB more peak RSS (five
 * alternating rounds each, 2026-12-02).
 */
export const MAX_RUN_BYTES = PACK_TARGET_BYTES / 2;
/** The largest chunk the default chunking cuts. */
const SINGLE_CHUNK_BUFFER = 4 * 1024 * 1024;

/**
 * Buffers for chunks in flight, reused: a new buffer per chunk makes a big pull spend a sixth of its time in the
 * garbage collector. Each is page-aligned memory, handed out as a view that sits where the bytes go in their block of
 * the file, so the direct write of a fetched run takes its whole blocks in place (viewForPosition). A view is never its
 * buffer's whole memory, so a hashing worker (AIM_HASH=wasm) gets a copy and never takes the buffer away.
 */
export class ChunkBuffers {
  private readonly free: Buffer[] = [];
  /** The whole buffer behind each view handed out. */
  private readonly bases = new WeakMap<ArrayBufferLike, Buffer>();

  /**
   * `capacity`: the size of each new buffer for runs of chunks, so that any free one fits whatever run comes next.
   * Each new big buffer also pushes V8 towards a full collection (91 of them in one 2 GiB pull when runs of varied
   * sizes kept missing the free ones). Single chunks get buffers of the largest chunk size.
   */
  constructor(private readonly capacity = SINGLE_CHUNK_BUFFER) {}

  /** Buffers sized for runs of chunks when `index` names packs or `locator` chunks on disk, for single chunks otherwise. */
  static for(index: ChunkLocations, locator: ReadonlyMap<Digest, unknown>): ChunkBuffers {
    return new ChunkBuffers(index.size > 0 || locator.size > 0 ? MAX_RUN_BYTES : undefined);
  }

  /** `size` bytes for data that will be written at file offset `position`. */
  take(size: number, position = 0): Buffer {
    const index = this.free.findIndex((buffer) => buffer.length >= size + VIEW_SLACK);
    const fresh = size > SINGLE_CHUNK_BUFFER ? Math.max(size, this.capacity) : SINGLE_CHUNK_BUFFER;
    const base = index >= 0 ? this.free.splice(index, 1)[0]! : bufferForDirectWrite(fresh + VIEW_SLACK);
    const view = viewForPosition(base, position, size);
    this.bases.set(view.buffer, base);
    return view;
  }

  give(view: Buffer): void {
    const base = this.bases.get(view.buffer);
    if (base) this.free.push(base);
  }
}
