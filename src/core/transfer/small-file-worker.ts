import { serveRequests, workerSetup } from '../../lib/worker-rpc.js';
import { runSmallFileJob, type JobReply, type SmallFileJob } from './small-file-jobs.js';

// The small-file writer's worker thread (small-file-writer.ts): checks chunks read from packs, writes the partials
// made of them and renames them into place, with plain synchronous calls (small-file-jobs.ts).

export interface SmallFileSetup {
  memory: WebAssembly.Memory;
}

const { memory } = workerSetup<SmallFileSetup>();
const bytes = new Uint8Array(memory.buffer);

serveRequests<SmallFileJob, JobReply>(
  (job) => runSmallFileJob(bytes, job),
  (reply) => [reply.stats, reply.written].filter((numbers) => numbers !== undefined).map((numbers) => numbers.buffer as ArrayBuffer),
);
