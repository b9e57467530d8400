import { openBackend } from '../backends/index.js';
import { countingBackend, IoStats } from '../backends/counting.js';
import { writeAtomic } from '../lib/atomic-write.js';
import { ioStatsPath } from '../settings/io-stats.js';
import { effectiveSettings, type Settings } from '../settings/resolve-settings.js';
import { findRepo, loadConfig, type AimConfig, type ConfigSource } from './config/config.js';
import { Repository } from './store/repository.js';
import { DEFAULT_CHUNKING, type ChunkingParams } from './chunking/chunker.js';

/** The configuration plus a way to open its repositories: what every command starts from. */
export class Session {
  /** What the command asked of storage, counted only when AIM_IO_STATS names a file to write it to. */
  private readonly ioStats = ioStatsPath() === undefined ? undefined : new IoStats();

  private constructor(readonly config: AimConfig, private readonly flags: Record<string, unknown> = {}) {}

  static async open(source: ConfigSource = {}): Promise<Session> {
    return new Session(await loadConfig(source), source.flags);
  }

  /** Every setting's effective value and source (flag > env > the config's `aim:` section > default). */
  settings(): Settings {
    const { aimSection, filepath, kamiwaza } = this.config;
    return effectiveSettings({ aimSection, file: filepath, legacyKamiwazaUrl: kamiwaza?.url }, this.flags);
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
    // A variable (or flag) is meant for this run and wins; the repository's own setting beats the config's default.
    const settings = this.settings();
    const configured = settings.get('transfer.concurrency');
    const concurrency = (configured.source.kind === 'env' || configured.source.kind === 'flag' ? configured.value as number : undefined)
      ?? repo.concurrency ?? settings.number('transfer.concurrency') ?? (onObjectStore ? 24 : 8);
    return new Repository(name, backend, concurrency, repo.packs ?? true, newRepositoryChunking(settings));
  }

  /** Writes the storage counts to AIM_IO_STATS's file, when it names one; called once the command has ended. */
  async writeIoStats(): Promise<void> {
    const file = ioStatsPath();
    if (!this.ioStats || file === undefined) return;
    await writeAtomic(file, `${JSON.stringify(this.ioStats.report(), null, 2)}\n`, { durable: false });
  }
}

/**
 * The chunking a repository created by this run records: the configured sizes, with the finer sizes of a file's
 * head kept within them (the head's chunks must rise too, and no head chunk may exceed the body's largest).
 */
export function newRepositoryChunking(settings: Settings): ChunkingParams {
  const [minSize, avgSize, maxSize] = ['chunking.min', 'chunking.avg', 'chunking.max'].map((key) => settings.number(key)!) as [number, number, number];
  if (minSize === DEFAULT_CHUNKING.minSize && avgSize === DEFAULT_CHUNKING.avgSize && maxSize === DEFAULT_CHUNKING.maxSize) return DEFAULT_CHUNKING;
  const head = DEFAULT_CHUNKING.head!;
  return {
    ...DEFAULT_CHUNKING, minSize, avgSize, maxSize,
    head: { size: head.size, minSize: Math.min(head.minSize, minSize), avgSize: Math.min(head.avgSize, avgSize), maxSize: Math.min(head.maxSize, maxSize) },
  };
}
