import { describe, expect, it } from 'vitest';
import { pollUntil, retryUntilStable } from '../../src/lib/poll.js';

describe('pollUntil', () => {
  it('returns the value of the first attempt that is done, attempting again in between', async () => {
    let calls = 0;
    const value = await pollUntil(async () => (++calls === 3 ? { done: true, value: 'ready' } : { done: false }), {
      intervalMs: 1, timeoutMs: 10_000, onTimeout: () => new Error('timed out'),
    });
    expect(value).toBe('ready');
    expect(calls).toBe(3);
  });

  it('throws onTimeout with the last value once the time is up, having tried at least once', async () => {
    let calls = 0;
    const error = await pollUntil(async () => ({ done: false, last: ++calls }), {
      intervalMs: 1, timeoutMs: 0, onTimeout: (last) => new Error(`gave up at ${String(last)}`),
    }).catch((e: Error) => e);
    expect((error as Error).message).toBe('gave up at 1');
  });

  it('ends at once when an attempt throws', async () => {
    let calls = 0;
    await expect(pollUntil(async () => {
      calls++;
      throw new Error('broken');
    }, { intervalMs: 1, timeoutMs: 10_000, onTimeout: () => new Error('timed out') })).rejects.toThrow('broken');
    expect(calls).toBe(1);
  });

  it('stops waiting when its signal aborts', async () => {
    const abort = new AbortController();
    const waiting = pollUntil(async () => {
      abort.abort(new Error('interrupted'));
      return { done: false };
    }, { intervalMs: 60_000, timeoutMs: 120_000, onTimeout: () => new Error('timed out'), signal: abort.signal });
    await expect(waiting).rejects.toThrow('interrupted');
  });
});

describe('retryUntilStable', () => {
  it('stops at the first pass that saw nothing change', async () => {
    const passes: number[] = [];
    await retryUntilStable(async (index) => {
      passes.push(index);
      return index === 2;
    }, 5, () => new Error('unstable'));
    expect(passes).toEqual([0, 1, 2]);
  });

  it('throws onUnstable after the last allowed pass', async () => {
    let passes = 0;
    await expect(retryUntilStable(async () => {
      passes++;
      return false;
    }, 4, () => new Error('kept changing'))).rejects.toThrow('kept changing');
    expect(passes).toBe(4);
  });
});
