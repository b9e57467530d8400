import { defaultParallel } from '../../serving/embedded/llama.js';

// The KV cache `aim run` will open, which `--quant auto` must leave room for. Apart from quant-fit.ts, which reads
// GGUF headers: every command that takes --quant (pull, push's subset options) asks this, and the GGUF package is
// too large to load for a question that needs none of it.

/** The context `aim run` opens by default (serve.ctx-size); the caller passes the configured one when it knows it. */
export const DEFAULT_CONTEXT = 2048;

/**
 * Tokens of KV cache `aim run` will hold: the context size (--ctx-size, else serve.ctx-size) once per parallel
 * sequence (serve.parallel), as the embedded engine's memory check counts it.
 */
export function servedContext(settings: { number(key: string): number | undefined }, ctxSize?: number): number {
  return (ctxSize ?? settings.number('serve.ctx-size') ?? DEFAULT_CONTEXT) * (settings.number('serve.parallel') ?? defaultParallel());
}
