import { syncFileSystem } from '../../lib/sync-file-system.js';

// The small files' one durability barrier (a sync of the file system, pull-small.ts) waits for every byte the pull
// wrote to reach the disk, after the last file is written. While the writer's thread is still creating files the
// disk is mostly idle, so a sync of the file system is started each time enough new bytes were written: by the
// barrier, little is left to write back. These syncs only start writeback early; the barrier after the last write
// is what the pull waits for before any rename, as before. Measured in docs/benchmarks.md, "Tiny-file pull,
// session 19".

/** New bytes written before another sync starts: a few syncs for tens of MiB, none for a pull of a few files. */
const BYTES_BETWEEN_SYNCS = 8 * 1024 * 1024;

export class WritebackAhead {
  private unsynced = 0;
  private running?: Promise<boolean>;

  /** `folder`: a folder of the file system the files are written to. */
  constructor(private readonly folder: string) {}

  /** `bytes` more were written: starts a sync when enough are waiting and none runs. */
  wrote(bytes: number): void {
    this.unsynced += bytes;
    if (this.running || this.unsynced < BYTES_BETWEEN_SYNCS) return;
    this.unsynced = 0;
    this.running = syncFileSystem(this.folder).finally(() => (this.running = undefined));
  }

  /** Settles when no early sync runs any more (the barrier starts after it; none outlives the pull). */
  async settled(): Promise<void> {
    await this.running;
  }
}
