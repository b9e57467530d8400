import { describe, expect, it } from 'vitest';
import { forEachConcurrently, TaskPool } from '../../src/lib/concurrently.js';

/** A promise settled from outside, to hold tasks running for as long as a test needs. */
function gate(): { promise: Promise<void>; open(): void; fail(error: Error): void } {
  let open!: () => void;
  let fail!: (error: Error) => void;
  const promise = new Promise<void>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  return { promise, open, fail };
}

describe('TaskPool', () => {
  it('never runs more than its limit at once, and runs every task', async () => {
    const pool = new TaskPool(3);
    let running = 0;
    let most = 0;
    const done: number[] = [];
    for (let i = 0; i < 20; i++) {
      await pool.add(async () => {
        running++;
        most = Math.max(most, running);
        await new Promise((resolve) => setImmediate(resolve));
        running--;
        done.push(i);
      });
      expect(pool.size).toBeLessThanOrEqual(3);
    }
    await pool.drain();
    expect(most).toBe(3);
    expect(done.sort((a, b) => a - b)).toEqual([...Array(20).keys()]);
  });

  it('waits for room under a second bound, but starts one task alone however big', async () => {
    const pool = new TaskPool(10);
    const gates = [gate(), gate()];
    let bytes = 0;
    const fits = (size: number) => () => bytes + size <= 100;
    const run = (size: number, held: Promise<void>) => async () => {
      bytes += size;
      await held;
      bytes -= size;
    };
    await pool.room(fits(500)); // nothing runs: room at once
    pool.start(run(500, gates[0]!.promise));
    let roomed = false;
    const waiting = pool.room(fits(60)).then(() => (roomed = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(roomed).toBe(false); // 500 in flight: 60 more does not fit
    gates[0]!.open();
    await waiting;
    expect(bytes).toBe(0);
    pool.start(run(60, gates[1]!.promise));
    gates[1]!.open();
    await pool.drain();
  });

  it('throws the first failure, only after every running task has ended', async () => {
    const pool = new TaskPool(4);
    const slow = gate();
    let slowEnded = false;
    pool.start(async () => {
      await slow.promise;
      slowEnded = true;
    });
    pool.start(() => Promise.reject(new Error('first')));
    pool.start(() => Promise.reject(new Error('second')));
    pool.start(() => {
      throw new Error('thrown at once'); // a synchronous throw is a failure like the others, after the first
    });
    const drained = pool.drain().catch((error: Error) => ({ error, slowEnded }));
    await new Promise((resolve) => setImmediate(resolve));
    expect(pool.failure).toEqual({ error: new Error('first') });
    slow.open();
    expect(await drained).toEqual({ error: new Error('first'), slowEnded: true });
  });

  it('refuses a limit below one', () => {
    expect(() => new TaskPool(0)).toThrow(RangeError);
  });
});

describe('forEachConcurrently', () => {
  it('bounds concurrency, and starts nothing new after a failure', async () => {
    let running = 0;
    let most = 0;
    const started: number[] = [];
    const work = forEachConcurrently([...Array(50).keys()], 4, async (item) => {
      started.push(item);
      running++;
      most = Math.max(most, running);
      await new Promise((resolve) => setImmediate(resolve));
      running--;
      if (item === 5) throw new Error(`item ${item} failed`);
    });
    await expect(work).rejects.toThrow('item 5 failed');
    expect(most).toBe(4);
    expect(running).toBe(0); // every started item ended before the failure was reported
    expect(started.length).toBeLessThan(50);
  });
});
