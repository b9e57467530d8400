// Waiting on something outside the process (a server coming up, a process going away, a remote deployment changing
// state) and re-reading something others change meanwhile. One implementation of each, so every wait has a
// deadline and every re-read a bound, and none is hand-written again.

export interface PollOptions {
  /** Between attempts. */
  intervalMs: number;
  /** Total time allowed; the first attempt always runs. */
  timeoutMs: number;
  /** Builds the error thrown when the time is up; given the last value `check` returned. */
  onTimeout: (last: unknown) => Error;
  signal?: AbortSignal;
}

export const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(done, ms);
    function done(): void {
      signal?.removeEventListener('abort', aborted);
      resolve();
    }
    function aborted(): void {
      clearTimeout(timer);
      reject(signal!.reason);
    }
    signal?.addEventListener('abort', aborted, { once: true });
  });

/**
 * Calls `check` until it returns `{done: true, value}`, waiting `intervalMs` between calls, and throws
 * `onTimeout(last)` once `timeoutMs` has passed. An error thrown by `check` ends the wait at once.
 */
export async function pollUntil<T, L = unknown>(check: () => Promise<{ done: true; value: T } | { done: false; last?: L }>, options: PollOptions): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let last: L | undefined;
  for (;;) {
    const outcome = await check();
    if (outcome.done) return outcome.value;
    last = outcome.last;
    const left = deadline - Date.now();
    if (left <= 0) throw options.onTimeout(last);
    await sleep(Math.min(options.intervalMs, left), options.signal);
  }
}

/**
 * Runs `pass` until it reports that it found nothing changed (returns true), at most `maxPasses` times; then throws
 * `onUnstable()`. For reads of state that other writers replace meanwhile: a result is trusted only once a pass
 * taken after every change saw none.
 */
export async function retryUntilStable(pass: (index: number) => Promise<boolean>, maxPasses: number, onUnstable: () => Error): Promise<void> {
  for (let index = 0; index < maxPasses; index++) {
    if (await pass(index)) return;
  }
  throw onUnstable();
}
