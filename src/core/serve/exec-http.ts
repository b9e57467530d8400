// One request to a deployment's OpenAI-compatible endpoint and its answer, read as untrusted: a recorded port may by
// now belong to any server, and a Kamiwaza endpoint is a remote one. The body is bounded, parsed by a schema, and
// every failure is one EngineError naming the endpoint.
import * as v from 'valibot';
import { EngineError, UsageError } from '../../lib/errors.js';
import { summarizeIssues } from '../format/schemas/parse.js';
import type { ExecRequest } from './exec-input.js';

/** An answer of a few thousand tokens is a few dozen KiB; past this the server is not answering a completion. */
const MAX_RESPONSE_BYTES = 8 * 1024 * 1024;
/** A CPU-bound model can take minutes on a long answer; past this something is stuck. */
const RESPONSE_TIMEOUT_MS = 15 * 60 * 1000;

const Choice = v.looseObject({
  index: v.optional(v.number()),
  message: v.optional(v.looseObject({ role: v.optional(v.string()), content: v.nullish(v.string()) })),
  text: v.optional(v.string()),
  finish_reason: v.nullish(v.string()),
});
const CompletionResponse = v.looseObject({
  id: v.pipe(v.string(), v.maxLength(256)),
  object: v.pipe(v.string(), v.maxLength(64)),
  choices: v.pipe(v.array(Choice), v.minLength(1)),
});

export type ExecResponse = v.InferOutput<typeof CompletionResponse>;

/** The answer's text: the first choice's message (chat) or text (completion). */
export function answerText(response: ExecResponse): string {
  const [first] = response.choices;
  return first?.message?.content ?? first?.text ?? '';
}

async function readBounded(res: Response, url: string): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body ?? []) {
    size += chunk.byteLength;
    if (size > MAX_RESPONSE_BYTES) {
      await res.body?.cancel().catch(() => undefined);
      throw new EngineError(`${url} answered with more than ${MAX_RESPONSE_BYTES} bytes`, { hint: 'check that the deployment is an OpenAI-compatible server (`aim ps`)' });
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function errorMessageOf(text: string): string | undefined {
  try {
    const message = (JSON.parse(text) as { error?: { message?: unknown } })?.error?.message;
    // Bounded; control characters are escaped where it is shown (the CLI's error line, JSON for MCP).
    return typeof message === 'string' ? (message.length > 500 ? `${message.slice(0, 500)}...` : message) : undefined;
  } catch {
    return undefined;
  }
}

/** POSTs the request to `endpoint` (ending in /v1) under `modelId` and returns the checked response object. */
export async function sendExecRequest(endpoint: string, modelId: string, request: ExecRequest, signal?: AbortSignal): Promise<ExecResponse> {
  const url = `${endpoint}/${request.kind === 'chat' ? 'chat/completions' : 'completions'}`;
  const hint = 'see the deployment with `aim ps`, or stop it with `aim stop NAME`';
  const timeout = AbortSignal.timeout(RESPONSE_TIMEOUT_MS);
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...request.body, model: modelId, stream: false }),
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
  } catch (error) {
    throw new EngineError(`${url} did not answer: ${(error as Error).message}`, { hint, cause: error });
  }
  const text = await readBounded(res, url);
  if (!res.ok) {
    const message = `${url} refused the request (HTTP ${res.status}): ${errorMessageOf(text) ?? 'no reason given'}`;
    // 4xx: the request is at fault (too long for the context, a parameter out of range), not the engine.
    if (res.status >= 400 && res.status < 500) throw new UsageError(message, { hint: 'change the request as the reason says (a shorter prompt, a smaller max_tokens, or a larger --ctx-size)' });
    throw new EngineError(message, { hint });
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new EngineError(`${url} answered with something that is not JSON`, { hint });
  }
  const result = v.safeParse(CompletionResponse, body);
  if (!result.success) throw new EngineError(`${url} answered with no completion: ${summarizeIssues(result.issues)}`, { hint });
  // The checked value itself, not the schema's output, which would move the fields it names to the front.
  return body as ExecResponse;
}
