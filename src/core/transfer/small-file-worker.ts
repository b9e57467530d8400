import { serveRequests, workerSetup } from '../../lib/worker-rpc.js';
import { runSmallFileJob, type JobReply, type SmallFileJob } from './small-file-jobs.js';

// The small-file writer's worker thread (small-file-writer.ts): checks chunks read from packs, writes the partials
// made of them and renames them into place, with plain synchronous calls (small-file-jobs.ts).

export interface SmallFileSetup {
  memory: WebAssembly.Memory;
  /** AIM_TEST_WRITER_FAIL_AFTER (settings/test-hooks.ts): the kind of job after whose first the thread dies. */
  failAfter?: SmallFileJob['op'];
}

const { memory, failAfter } = workerSetup<SmallFileSetup>();
const bytes = new Uint8Array(memory.buffer);

serveRequests<SmallFileJob, JobReply>(
  (job) => {
    const reply = runSmallFileJob(bytes, job);
    return job.op === failAfter ? dieUnreported() : reply;
  },
  (reply) => [reply.stats, reply.written].filter((numbers) => numbers !== undefined).map((numbers) => numbers.buffer as ArrayBuffer),
);

/** Throws outside the job, whose reply never leaves: the thread ends as one that failed in its own code would. */
function dieUnreported(): Promise<never> {
  setImmediate(() => {
    throw new Error('AIM_TEST_WRITER_FAIL_AFTER: the writer thread fails on purpose');
  });
  return new Promise<never>(() => undefined);
}
