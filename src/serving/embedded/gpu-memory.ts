import { testFreeGpuMemory } from '../../settings/test-hooks.js';

// The GPU's free memory counts towards what a model may use: with --gpu auto the engine offloads layers there. It is
// asked for only when the machine's free RAM alone is not enough, because loading node-llama-cpp to ask costs most
// of a second (and nothing when it would not change the answer).

export interface GpuMemory {
  /** node-llama-cpp's name for the GPU backend: cuda, vulkan, metal. */
  backend: string;
  freeBytes: number;
}

/**
 * Free memory of the GPU the embedded engine would use, or undefined when it would use none (`off`, no GPU found,
 * no prebuilt binary for it) or when the GPU shares the system's RAM (unified memory), which free RAM already counts.
 */
export async function freeGpuMemory(choice: 'auto' | 'off'): Promise<GpuMemory | undefined> {
  if (choice === 'off') return undefined;
  const stand = testFreeGpuMemory();
  if (stand !== undefined) return { backend: 'test', freeBytes: stand };
  const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
  const llama = await getLlama({ gpu: 'auto', build: 'never', logLevel: LlamaLogLevel.disabled }).catch(() => undefined);
  if (!llama) return undefined;
  try {
    if (llama.gpu === false) return undefined;
    const vram = await llama.getVramState();
    return vram.unifiedSize > 0 ? undefined : { backend: llama.gpu, freeBytes: vram.free };
  } finally {
    await llama.dispose();
  }
}
