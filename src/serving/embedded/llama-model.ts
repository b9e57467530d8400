// Loading the model in the embedded server: llama.cpp's binding (on the GPU when node-llama-cpp finds one and
// --gpu is auto), the model, then either a chat context with one sequence per slot or, for an embedding model,
// one embedding context per slot. Only llama-server.ts imports this: node-llama-cpp costs ~0.8 s to load and must
// never slow the CLI down.
import type { ServerResponse } from 'node:http';
import { getLlama, LlamaLogLevel, type LlamaEmbeddingContext } from 'node-llama-cpp';
import { answerEmbeddings, isEmbeddingModel } from './llama-embed.js';
import { answerGeneration, chatSessions, type Kind, type Session } from './llama-generate.js';
import { HttpError } from './openai-http.js';
import { SlotPool, type PoolStats } from './slot-pool.js';

export type GpuChoice = 'auto' | 'off';
export type Route = Kind | 'embedding';

export interface LoadedModel {
  /** chat: answers chat and text completions; embedding: answers /v1/embeddings. */
  kind: 'chat' | 'embedding';
  /** Requests answered at once. */
  slots: number;
  /** The GPU backend llama.cpp uses (cuda, vulkan, metal), or false on the CPU. */
  gpu: string | false;
  /** Model layers offloaded to the GPU (0 on the CPU). */
  gpuLayers: number;
  stats(): PoolStats;
  handle(route: Route, body: Record<string, unknown>, res: ServerResponse, modelId: string, signal: AbortSignal): Promise<void>;
  dispose(): Promise<void>;
}

export interface LoadOptions {
  modelPath: string;
  contextSize: number;
  threads: number;
  /** Requests answered at once, each on its own sequence of `contextSize` tokens. */
  parallel: number;
  /** Requests that may wait for a busy slot before the server answers 503. */
  maxQueued: number;
  gpu: GpuChoice;
  log: (message: string) => void;
}

const wrongRoute = (modelId: string, kind: 'chat' | 'embedding') => new HttpError(400, kind === 'embedding'
  ? `${modelId} is an embedding model: use /v1/embeddings`
  : `${modelId} is not an embedding model: /v1/embeddings needs one (a GGUF with a pooling type, e.g. nomic-embed-text)`,
'invalid_request_error', 'model', 'model_not_supported');

export async function loadLlamaModel(options: LoadOptions): Promise<LoadedModel> {
  // build: 'never' so a missing prebuilt binary is an error, not a 10-minute compile. gpu 'auto' takes CUDA, Vulkan
  // or Metal when a prebuilt binary for it loads here, else the CPU; 'off' never probes a GPU.
  const llama = await getLlama({ gpu: options.gpu === 'off' ? false : 'auto', build: 'never', logLevel: LlamaLogLevel.warn,
    logger: (_level: LlamaLogLevel, message: string) => options.log(`llama.cpp: ${message.trimEnd()}`) });
  const model = await llama.loadModel({ modelPath: options.modelPath, gpuLayers: llama.gpu === false ? 0 : 'auto' });
  const common = { gpu: llama.gpu, gpuLayers: model.gpuLayers, slots: options.parallel };
  const dispose = async (contexts: Array<{ dispose(): Promise<void> }>) => {
    for (const context of contexts) await context.dispose();
    await model.dispose();
    await llama.dispose();
  };

  if (isEmbeddingModel(model)) {
    const contexts: LlamaEmbeddingContext[] = [];
    for (let i = 0; i < options.parallel; i++) contexts.push(await model.createEmbeddingContext({ contextSize: options.contextSize, threads: options.threads }));
    const pool = new SlotPool(contexts, options.maxQueued);
    return {
      ...common, kind: 'embedding', stats: () => pool.stats(), dispose: () => dispose(contexts),
      async handle(route, body, res, modelId, signal) {
        if (route !== 'embedding') throw wrongRoute(modelId, 'embedding');
        await answerEmbeddings(model, pool, options.contextSize, body, res, modelId, signal);
      },
    };
  }
  const context = await model.createContext({ contextSize: options.contextSize, threads: options.threads, sequences: options.parallel });
  const pool = new SlotPool<Session>(chatSessions(context, options.parallel), options.maxQueued);
  return {
    ...common, kind: 'chat', stats: () => pool.stats(), dispose: () => dispose([context]),
    async handle(route, body, res, modelId, signal) {
      if (route === 'embedding') throw wrongRoute(modelId, 'chat');
      await answerGeneration(model, pool, options.contextSize, route, body, res, modelId, signal);
    },
  };
}
