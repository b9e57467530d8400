// Equal slots of one memory handed out in turn: a taker waits until one is free, and hands it back once.

export interface Slot {
  /** Where the slot starts in the memory. */
  base: number;
  /** Hands the slot back (to the longest waiting taker first); calls after the first do nothing. */
  release(): void;
}

export class SlotPool {
  private readonly free: number[];
  private readonly waiting: Array<(base: number) => void> = [];

  constructor(count: number, slotBytes: number) {
    this.free = Array.from({ length: count }, (_, i) => i * slotBytes);
  }

  async take(): Promise<Slot> {
    const base = this.free.pop() ?? (await new Promise<number>((resolve) => this.waiting.push(resolve)));
    let released = false;
    return {
      base,
      release: () => {
        if (released) return;
        released = true;
        const next = this.waiting.shift();
        if (next) next(base);
        else this.free.push(base);
      },
    };
  }
}
