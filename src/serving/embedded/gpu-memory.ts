import * as v from 'valibot';
import { testFreeGpuMemory } from '../../settings/test-hooks.js';
import { askServerScript } from './server-process.js';

// The GPU's free memory counts towards what a model may use: with --gpu auto the engine offloads layers there. It is
// asked for only when the machine's free RAM alone is not enough, and by the server script in a child process
// (`--probe-gpu`), as the CLI never loads node-llama-cpp itself: loading it costs most of a second, and some
// drivers abort the process that probes them.

export interface GpuMemory {
  /** node-llama-cpp's name for the GPU backend: cuda, vulkan, metal. */
  backend: string;
  freeBytes: number;
}

/** A GPU probe that has not answered by then is taken as no GPU. */
const PROBE_MS = 30_000;
const ProbeReply = v.union([
  v.object({ backend: v.literal(false) }),
  v.object({ backend: v.pipe(v.string(), v.maxLength(32)), free: v.pipe(v.number(), v.minValue(0)), unified: v.pipe(v.number(), v.minValue(0)) }),
]);

async function probe(): Promise<GpuMemory | undefined> {
  const { reply } = await askServerScript('--probe-gpu', ProbeReply, PROBE_MS);
  // Unified memory (one pool for CPU and GPU) is already counted as free RAM.
  if (!reply || reply.backend === false || reply.unified > 0) return undefined;
  return { backend: reply.backend, freeBytes: reply.free };
}

/**
 * Free memory of the GPU the embedded engine would use, or undefined when it would use none (`off`, no GPU found,
 * no prebuilt binary for it) or when the GPU shares the system's RAM (unified memory), which free RAM already counts.
 */
export async function freeGpuMemory(choice: 'auto' | 'off'): Promise<GpuMemory | undefined> {
  if (choice === 'off') return undefined;
  const stand = testFreeGpuMemory();
  if (stand !== undefined) return { backend: 'test', freeBytes: stand };
  return probe();
}
