import { EnvReader } from './env-reader.js';

// Hooks that only the test suite sets: with them a test kills a real push at an exact step of its write order,
// as `kill -9` would, without racing the process on a timer.

/** The steps of a push's write order at which AIM_TEST_STOP_AFTER can end the process. */
export const PUSH_STEPS = ['pending', 'pack', 'index', 'keys', 'map', 'manifest'] as const;
export type PushStep = (typeof PUSH_STEPS)[number];

/** AIM_TEST_STOP_AFTER=<step>: the push ends itself with SIGKILL right after that step. Unset in normal use. */
export function testStopAfter(env: NodeJS.ProcessEnv = process.env): PushStep | undefined {
  const reader = new EnvReader(env);
  const step = reader.choice('AIM_TEST_STOP_AFTER', PUSH_STEPS);
  reader.check('AIM_TEST_STOP_AFTER is for the test suite only');
  return step;
}
