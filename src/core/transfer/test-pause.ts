import { readFileSync } from 'node:fs';
import { testPause, type PullPause, type RecordPause } from '../../settings/test-hooks.js';

/** Blocks on the FIFO AIM_TEST_PAUSE_<step> names, when the test suite set it, until the test has closed it. */
export function pauseForTest(step: PullPause | RecordPause): void {
  const fifo = testPause(step);
  if (fifo) readFileSync(fifo);
}
