import { dieUnreported, serveRequests, workerSetup } from '../../lib/worker-rpc.js';
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
    return job.op === failAfter ? dieUnreported('AIM_TEST_WRITER_FAIL_AFTER') : reply;
  },
  (reply) => [reply.stats, reply.written].filter((numbers) => numbers !== undefined).map((numbers) => numbers.buffer as ArrayBuffer),
);
