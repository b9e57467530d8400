// The one bounded set of in-flight work. A caller starts tasks when there is room, and learns of the first failure
// without losing track of the tasks still running: those are always awaited before the failure is thrown, so no
// task outlives its caller's cleanup (a closed file, a returned buffer).

export class TaskPool {
  private readonly running = new Set<Promise<void>>();
  private failed = false;
  private firstFailure: unknown;

  /** `limit`: tasks running at once, at least 1. */
  constructor(private readonly limit: number) {
    if (!(limit >= 1)) throw new RangeError(`a pool needs room for at least one task, not ${limit}`);
  }

  /** Tasks started and not yet settled. */
  get size(): number {
    return this.running.size;
  }

  get full(): boolean {
    return this.running.size >= this.limit;
  }

  /** The first failure of any task, once there is one (tasks started after it still run to their end). */
  get failure(): { error: unknown } | undefined {
    return this.failed ? { error: this.firstFailure } : undefined;
  }

  /** Settles when some running task does (at once when none runs). */
  async oneSettled(): Promise<void> {
    if (this.running.size > 0) await Promise.race(this.running);
  }

  /**
   * Waits until there is room: fewer than `limit` tasks, and `fits()` (another bound, such as bytes in flight) says
   * yes or nothing runs at all, so one task bigger than the bound still starts alone.
   */
  async room(fits: () => boolean = () => true): Promise<void> {
    while (this.full || (this.running.size > 0 && !fits())) await Promise.race(this.running);
  }

  /** Starts `task` now, whatever the room; its failure is kept if it is the first. */
  start(task: () => Promise<unknown>): void {
    const settled = startNow(task)
      .then(
        () => undefined,
        (error: unknown) => this.fail(error),
      )
      .finally(() => this.running.delete(settled));
    this.running.add(settled);
  }

  /** Waits for room, then starts `task`. */
  async add(task: () => Promise<unknown>): Promise<void> {
    await this.room();
    this.start(task);
  }

  /** Waits for every task, then throws the first failure if there was one. */
  async drain(): Promise<void> {
    await this.settle();
    if (this.failed) throw this.firstFailure;
  }

  /** Waits for every task; failures stay in `failure`. */
  async settle(): Promise<void> {
    while (this.running.size > 0) await Promise.all(this.running);
  }

  /** Records a failure from outside the pool's tasks (work that belongs to the same batch). */
  fail(error: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.firstFailure = error;
  }
}

/** Calls `task` at once; a synchronous throw becomes a rejection like any other failure. */
function startNow(task: () => Promise<unknown>): Promise<unknown> {
  try {
    return task();
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * Runs `work` on every item, at most `limit` at a time, in order of start. After a failure no new item starts; the
 * running ones finish, then the first failure is thrown.
 */
export async function forEachConcurrently<T>(items: Iterable<T>, limit: number, work: (item: T) => Promise<unknown>): Promise<void> {
  const pool = new TaskPool(limit);
  for (const item of items) {
    await pool.room();
    if (pool.failure) break;
    pool.start(() => work(item));
  }
  await pool.drain();
}
