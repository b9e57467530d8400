import { EnvReader } from './env-reader.js';

// Hooks that only the test suite sets: with them a test kills a real push at an exact step of its write order,
// as `kill -9` would, without racing the process on a timer.

/** The steps of a push's write order at which AIM_TEST_STOP_AFTER can end the process. */
export const PUSH_STEPS = ['pending', 'pack', 'index', 'keys', 'map', 'manifest'] as const;
export const GC_STEPS = ['gc-marked', 'gc-repacked', 'gc-maps', 'gc-index', 'gc-packs', 'gc-manifests'] as const;
export type PushStep = (typeof PUSH_STEPS)[number] | (typeof GC_STEPS)[number];

/** AIM_TEST_STOP_AFTER=<step>: the push ends itself with SIGKILL right after that step. Unset in normal use. */
export function testStopAfter(env: NodeJS.ProcessEnv = process.env): PushStep | undefined {
  const reader = new EnvReader(env);
  const step = reader.choice('AIM_TEST_STOP_AFTER', [...PUSH_STEPS, ...GC_STEPS]);
  reader.check('AIM_TEST_STOP_AFTER is for the test suite only');
  return step;
}

/** A byte count only the test suite sets, checked like any setting. */
function testBytes(name: string, env: NodeJS.ProcessEnv): number | undefined {
  const reader = new EnvReader(env);
  const bytes = reader.wholeNumber(name, 0, Number.MAX_SAFE_INTEGER);
  reader.check(`${name} is for the test suite only`);
  return bytes;
}

/**
 * AIM_TEST_FREE_BYTES=<n>: `aim doctor` takes AIM_HOME's file system to have n bytes free, so a test can show the
 * full-disk finding without filling a disk. Unset in normal use.
 */
export function testFreeBytes(env: NodeJS.ProcessEnv = process.env): number | undefined {
  return testBytes('AIM_TEST_FREE_BYTES', env);
}

/**
 * AIM_TEST_FREE_MEMORY=<bytes>: the free memory `--quant auto` fits a model into and the embedded engine checks a
 * model against, instead of the machine's, so a test can decide which quantization fits and show the refusal to
 * load one that does not, without exhausting a machine. Unset in normal use.
 */
export function testFreeMemory(env: NodeJS.ProcessEnv = process.env): number | undefined {
  return testBytes('AIM_TEST_FREE_MEMORY', env);
}

/**
 * AIM_TEST_FREE_GPU_MEMORY=<bytes>: a GPU with that much free memory, as node-llama-cpp would report it, so a test on
 * a machine without one can show `--quant auto` and the engine's memory check counting it. Unset in normal use.
 */
export function testFreeGpuMemory(env: NodeJS.ProcessEnv = process.env): number | undefined {
  return testBytes('AIM_TEST_FREE_GPU_MEMORY', env);
}

/**
 * AIM_TEST_PULL_THREAD_HEAP_MIB=<n>: a pull's worker threads (the small-file writer, the chunk checker) run with at
 * most n MiB of heap, so a test can make one run out of memory for real (too little, and it cannot even start).
 * Unset in normal use.
 */
export function testPullThreadHeapMiB(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const reader = new EnvReader(env);
  const mib = reader.wholeNumber('AIM_TEST_PULL_THREAD_HEAP_MIB', 1, 1 << 20);
  reader.check('AIM_TEST_PULL_THREAD_HEAP_MIB is for the test suite only');
  return mib;
}

/** The kinds of job of the small-file writer after whose first AIM_TEST_WRITER_FAIL_AFTER ends its thread. */
export const WRITER_JOBS = ['write', 'install'] as const;

/**
 * AIM_TEST_WRITER_FAIL_AFTER=<write|install>: the small-file writer's worker thread runs its first job of that kind,
 * then throws outside any job before it replies, so a test can show what a pull does when the thread dies with its
 * work done but not reported. Unset in normal use.
 */
export function testWriterFailAfter(env: NodeJS.ProcessEnv = process.env): (typeof WRITER_JOBS)[number] | undefined {
  const reader = new EnvReader(env);
  const job = reader.choice('AIM_TEST_WRITER_FAIL_AFTER', WRITER_JOBS);
  reader.check('AIM_TEST_WRITER_FAIL_AFTER is for the test suite only');
  return job;
}

/**
 * AIM_TEST_CHECKER_FAIL_AFTER=<n>: a pull's chunk checker thread (verified-runs.ts) checks and moves its first n runs,
 * then throws outside any job before it replies to the n-th, so a test can show what a pull does when that thread
 * dies once started, part of a run moved. Unset in normal use.
 */
export function testCheckerFailAfter(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const reader = new EnvReader(env);
  const runs = reader.wholeNumber('AIM_TEST_CHECKER_FAIL_AFTER', 1, Number.MAX_SAFE_INTEGER);
  reader.check('AIM_TEST_CHECKER_FAIL_AFTER is for the test suite only');
  return runs;
}

/**
 * AIM_TEST_COMMAND_NEVER_ENDS=1: the command awaits a promise nothing settles, as a bug would leave it, so a test can
 * show the net in cli.ts that ends such a process with exit 70 and one line instead of exit 0 and silence. Unset in
 * normal use.
 */
export function testCommandNeverEnds(env: NodeJS.ProcessEnv = process.env): boolean {
  const reader = new EnvReader(env);
  const never = reader.flag('AIM_TEST_COMMAND_NEVER_ENDS');
  reader.check('AIM_TEST_COMMAND_NEVER_ENDS is for the test suite only');
  return never === true;
}

/**
 * The steps of a pull at which AIM_TEST_PAUSE_<step>=<FIFO> has it read the FIFO, which blocks until the test has
 * opened it, changed DEST and closed it: a change made exactly there, without racing the process on a timer.
 * - BEFORE_LAST_LOOK: its files built, before it looks at DEST again for files not aim's;
 * - BEFORE_RENAMES: after that look, before it moves any file into place;
 * - AFTER_FOLDERS: once the folders it moves files into are made, checked and held, before the first move into them;
 * - BEFORE_REMOVALS: once it has found a file the new version drops still as installed, before it removes it.
 */
export type PullPause = 'BEFORE_LAST_LOOK' | 'BEFORE_RENAMES' | 'AFTER_FOLDERS' | 'BEFORE_REMOVALS';

/**
 * The steps of a change to the install records at which AIM_TEST_PAUSE_<step>=<FIFO> pauses it the same way:
 * - BEFORE_RECORD_REMOVAL: `aim rm` has found the tag's record still naming the version it removes, and holds the
 *   records lock, before it removes that record.
 * - BEFORE_BUNDLE_RECORD: `aim install` of a bundle has installed every member, before it takes the bundles lock to
 *   write the bundle's record.
 */
export type RecordPause = 'BEFORE_RECORD_REMOVAL' | 'BEFORE_BUNDLE_RECORD';

/** The FIFO AIM_TEST_PAUSE_<step> names, if set. Unset in normal use. */
export function testPause(step: PullPause | RecordPause, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return new EnvReader(env).text(`AIM_TEST_PAUSE_${step}`);
}
