// /v1/embeddings for embedding models (a GGUF whose pooling type is set, or an encoder architecture such as bert):
// one embedding context per slot, each input string embedded on its own and answered in OpenAI's shape. The body
// is checked with a schema first, so a bad request is a 400 before it waits for a slot.
import type { ServerResponse } from 'node:http';
import type { LlamaEmbeddingContext, LlamaModel } from 'node-llama-cpp';
import * as v from 'valibot';
import { HttpError, sendJson } from './openai-http.js';
import type { SlotPool } from './slot-pool.js';

/** Inputs per request: OpenAI allows 2048; a local model embedding them one by one is better asked in batches. */
const MAX_INPUTS = 256;

const EmbeddingRequest = v.object({
  input: v.union([v.pipe(v.string(), v.minLength(1)), v.pipe(v.array(v.pipe(v.string(), v.minLength(1))), v.minLength(1), v.maxLength(MAX_INPUTS))]),
  model: v.optional(v.string()),
  encoding_format: v.optional(v.picklist(['float', 'base64'])),
  user: v.optional(v.string()),
});

const ENCODER_ARCHITECTURES = new Set(['bert', 'nomic-bert', 'nomic-bert-moe', 'jina-bert-v2', 't5encoder']);

/** Whether llama.cpp pools this model's output into one vector per input: an embedding model, not a chat one. */
export function isEmbeddingModel(model: LlamaModel): boolean {
  const metadata = model.fileInfo.metadata as unknown as Record<string, unknown> & { general: { architecture?: string } };
  const arch = metadata.general.architecture ?? '';
  const pooling = (metadata[arch] as { pooling_type?: unknown } | undefined)?.pooling_type;
  return ENCODER_ARCHITECTURES.has(arch) || (typeof pooling === 'number' && pooling > 0);
}

function embeddingInputs(body: Record<string, unknown>): { inputs: string[]; base64: boolean } {
  const parsed = v.safeParse(EmbeddingRequest, body);
  if (!parsed.success) {
    const issue = parsed.issues[0];
    const param = v.getDotPath(issue) ?? 'input';
    throw new HttpError(400, `${param}: ${param === 'input' ? `must be a non-empty string or an array of 1 to ${MAX_INPUTS} of them` : issue.message}`, 'invalid_request_error', param);
  }
  const { input, encoding_format: format } = parsed.output;
  return { inputs: typeof input === 'string' ? [input] : input, base64: format === 'base64' };
}

/** Little-endian float32 bytes in base64, as OpenAI's `encoding_format: "base64"` returns them. */
function base64Vector(vector: readonly number[]): string {
  return Buffer.from(new Float32Array(vector).buffer).toString('base64');
}

export async function answerEmbeddings(model: LlamaModel, pool: SlotPool<LlamaEmbeddingContext>, contextSize: number,
  body: Record<string, unknown>, res: ServerResponse, modelId: string, signal: AbortSignal): Promise<void> {
  const { inputs, base64 } = embeddingInputs(body);
  const counts = inputs.map((text, index) => {
    const tokens = model.tokenize(text).length;
    if (tokens > contextSize) {
      throw new HttpError(400, `input[${index}] is ${tokens} tokens; this model's context is ${contextSize}`, 'invalid_request_error', 'input', 'context_length_exceeded');
    }
    return tokens;
  });
  const vectors = await pool.use(signal, async (context) => {
    const out: Array<readonly number[]> = [];
    for (const text of inputs) {
      if (signal.aborted) return undefined;
      out.push((await context.getEmbeddingFor(text)).vector);
    }
    return out;
  });
  if (!vectors) return;
  const promptTokens = counts.reduce((a, b) => a + b, 0);
  sendJson(res, 200, {
    object: 'list', model: modelId, usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
    data: vectors.map((vector, index) => ({ object: 'embedding', index, embedding: base64 ? base64Vector(vector) : [...vector] })),
  });
}
