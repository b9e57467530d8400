import { openBackend } from '../backends/index.js';
import { countingBackend, IoStats } from '../backends/counting.js';
import { writeAtomic } from '../lib/atomic-write.js';
import { ioStatsPath } from '../settings/io-stats.js';
import { findRepo, loadConfig, type AimConfig, type ConfigSource } from './config/config.js';
import { Repository } from './store/repository.js';

/** The configuration plus a way to open its repositories: what every command starts from. */
export class Session {
  /** What the command asked of storage, counted only when AIM_IO_STATS names a file to write it to. */
  private readonly ioStats = ioStatsPath() === undefined ? undefined : new IoStats();

  private constructor(readonly config: AimConfig) {}

  static async open(source: ConfigSource = {}): Promise<Session> {
    return new Session(await loadConfig(source));
  }

  /** Opens a configured repository, checking first that it can be read so every command fails the same plain way. */
  async repository(name: string): Promise<Repository> {
    const repo = findRepo(this.config, name);
    const opened = await openBackend(repo);
    const backend = this.ioStats ? countingBackend(opened, this.ioStats) : opened;
    await backend.probe('read');
    // Object stores answer each request with latency, so more requests in flight keep the link busy. Chunks travel
    // in packs everywhere: each request to a store costs, and each file in a folder costs a create, a rename and a
    // flush of the disk's cache (a 2 GiB push: 128 pack files instead of ~3,400 chunk files), more so on NFS.
    const onObjectStore = repo.type === 's3';
    return new Repository(name, backend, repo.concurrency ?? (onObjectStore ? 24 : 8), repo.packs ?? true);
  }

  /** Writes the storage counts to AIM_IO_STATS's file, when it names one; called once the command has ended. */
  async writeIoStats(): Promise<void> {
    const file = ioStatsPath();
    if (!this.ioStats || file === undefined) return;
    await writeAtomic(file, `${JSON.stringify(this.ioStats.report(), null, 2)}\n`, { durable: false });
  }
}
