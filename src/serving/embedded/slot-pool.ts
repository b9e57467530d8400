// The sequences of one context, handed to requests one each. A request that finds them all busy waits in a queue
// of bounded length; past it the server answers 503 with Retry-After (as llama.cpp's server does when its slots
// are full) rather than holding an ever-growing backlog of sockets. A request whose client hangs up while queued
// leaves the queue at once, so it never takes a sequence nobody waits for.
import { HttpError } from './openai-http.js';

export interface PoolStats {
  /** Sequences answering a request now. */
  busy: number;
  idle: number;
  /** Requests waiting for a sequence. */
  queued: number;
  /** Most sequences ever busy at once since the server started (proves requests really ran together). */
  peakBusy: number;
}

interface Waiter<T> {
  resolve: (slot: T) => void;
  reject: (error: unknown) => void;
}

export class SlotPool<T> {
  private readonly free: T[];
  private readonly waiting: Array<Waiter<T>> = [];
  private busy = 0;
  private peakBusy = 0;

  constructor(private readonly slots: readonly T[], private readonly maxQueued: number) {
    this.free = [...slots];
  }

  get size(): number {
    return this.slots.length;
  }

  /** A slot to read shared state from (its tokenizer, its chat template), busy or not. */
  get any(): T {
    return this.slots[0]!;
  }

  stats(): PoolStats {
    return { busy: this.busy, idle: this.free.length, queued: this.waiting.length, peakBusy: this.peakBusy };
  }

  /** Runs `work` on a free slot, waiting for one if need be; rejects with 503 when the queue is full. */
  async use<R>(signal: AbortSignal, work: (slot: T) => Promise<R>): Promise<R | undefined> {
    const slot = await this.acquire(signal);
    if (slot === undefined) return undefined;
    try {
      return await work(slot);
    } finally {
      this.release(slot);
    }
  }

  private acquire(signal: AbortSignal): Promise<T | undefined> {
    if (signal.aborted) return Promise.resolve(undefined);
    const slot = this.free.pop();
    if (slot !== undefined) return Promise.resolve(this.take(slot));
    if (this.waiting.length >= this.maxQueued) {
      // A few seconds: the time a short answer takes on a small model; clients back off and retry.
      throw new HttpError(503, `all ${this.slots.length} sequences are busy and ${this.waiting.length} requests are waiting; retry shortly or start the model with a larger --parallel`,
        'unavailable_error', null, 'server_busy', 2);
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter<T> = { resolve, reject };
      this.waiting.push(waiter);
      signal.addEventListener('abort', () => {
        const at = this.waiting.indexOf(waiter);
        if (at < 0) return;
        this.waiting.splice(at, 1);
        resolve(undefined);
      }, { once: true });
    });
  }

  private take(slot: T): T {
    this.busy++;
    this.peakBusy = Math.max(this.peakBusy, this.busy);
    return slot;
  }

  private release(slot: T): void {
    this.busy--;
    const next = this.waiting.shift();
    if (next) next.resolve(this.take(slot));
    else this.free.push(slot);
  }
}
