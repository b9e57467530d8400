import { testStopAfter, type PushStep } from '../../settings/test-hooks.js';

/**
 * Ends the process as `kill -9` would, right after `step` of a push, when the test suite asked for it
 * (AIM_TEST_STOP_AFTER): the crash tests then stop a real push at each step of its write order.
 */
export function stopHereInTests(step: PushStep): void {
  if (testStopAfter() === step) process.kill(process.pid, 'SIGKILL');
}
