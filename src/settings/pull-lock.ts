import { EnvReader, MAX_TIMER_MS } from './env-reader.js';

/** Long enough for most pulls on one machine to end, short enough that a script stuck behind a hung one hears of it. */
const DEFAULT_WAIT_MS = 10 * 60 * 1000;

/**
 * AIM_PULL_LOCK_WAIT_MS: how long a pull waits for another aim command writing the same destination before it gives
 * up (exit 5); 0 gives up at once. A bad value is a ConfigError naming the variable.
 */
export function pullLockWaitMs(env: NodeJS.ProcessEnv = process.env): number {
  const reader = new EnvReader(env);
  const waitMs = reader.wholeNumber('AIM_PULL_LOCK_WAIT_MS', 0, MAX_TIMER_MS) ?? DEFAULT_WAIT_MS;
  reader.check('README lists AIM_PULL_LOCK_WAIT_MS');
  return waitMs;
}
