// What `aim exec` and the MCP exec tool accept: one OpenAI-style request, a chat completion (`messages`) or a
// completion (`prompt`). It comes from a flag, a file, stdin or an agent, so it is parsed bounded and checked by a
// schema before anything is resolved, pulled or loaded; the engine checks the generation parameters again.
import * as v from 'valibot';
import { UsageError } from '../../lib/errors.js';
import { summarizeIssues } from '../format/schemas/parse.js';

/** A prompt for a local model, not an upload: the embedded engine takes request bodies up to 1 MiB too. */
export const MAX_EXEC_INPUT_BYTES = 1024 * 1024;

const TextPart = v.object({ type: v.literal('text'), text: v.string() });
const Message = v.looseObject({
  role: v.picklist(['system', 'developer', 'user', 'assistant']),
  content: v.union([v.string(), v.array(TextPart)]),
});

const Common = {
  model: v.optional(v.string()),
  max_tokens: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
  max_completion_tokens: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
  temperature: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(2))),
  top_p: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(1))),
  seed: v.optional(v.pipe(v.number(), v.integer())),
  stop: v.optional(v.union([v.string(), v.pipe(v.array(v.string()), v.maxLength(4))])),
  stream: v.optional(v.literal(false)),
};

const ChatInput = v.looseObject({ ...Common, messages: v.pipe(v.array(Message), v.minLength(1, 'needs at least one message')) });
const CompletionInput = v.looseObject({ ...Common, prompt: v.union([v.string(), v.pipe(v.array(v.string()), v.length(1))]) });

export type ExecKind = 'chat' | 'completion';

export interface ExecRequest {
  kind: ExecKind;
  /** The request body as given (unknown OpenAI fields pass through; the engine ignores what it does not use). */
  body: Record<string, unknown>;
}

const HINT = 'give an OpenAI request, e.g. {"messages":[{"role":"user","content":"hi"}]} or {"prompt":"Once upon a time"}';

/** An already-parsed value (from MCP arguments) checked as a request; `where` names it in errors. */
export function checkExecInput(value: unknown, where: string): ExecRequest {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new UsageError(`${where} must be a JSON object`, { hint: HINT });
  // One JSON document is the answer: a stream of events would be something else.
  if ((value as { stream?: unknown }).stream === true) throw new UsageError(`${where} asks for a stream, which exec does not offer`, { hint: 'leave "stream" out: the whole answer comes as one response object' });
  const hasMessages = 'messages' in value;
  if (hasMessages === 'prompt' in value) {
    throw new UsageError(`${where} must have either "messages" (a chat) or "prompt" (a completion)${hasMessages ? ', not both' : ''}`, { hint: HINT });
  }
  const result = v.safeParse(hasMessages ? ChatInput : CompletionInput, value);
  if (!result.success) throw new UsageError(`${where} is not a valid request: ${summarizeIssues(result.issues)}`, { hint: HINT });
  return { kind: hasMessages ? 'chat' : 'completion', body: result.output as Record<string, unknown> };
}

/** JSON text from a flag, a file or stdin, bounded and parsed; `where` names it ("--input", "request.json"). */
export function parseExecInput(text: string, where: string): ExecRequest {
  const size = Buffer.byteLength(text);
  if (size > MAX_EXEC_INPUT_BYTES) {
    throw new UsageError(`${where} holds ${size} bytes, more than the ${MAX_EXEC_INPUT_BYTES} a request may have`, { hint: 'shorten the prompt' });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const at = /position (\d+)/.exec(String((error as Error)?.message))?.[1];
    throw new UsageError(`${where} is not valid JSON${at === undefined ? '' : ` (at byte ${at})`}`, { hint: HINT });
  }
  return checkExecInput(value, where);
}

/** The request `aim run NAME "prompt"` sends: one user message, as `ollama run` does. */
export function promptRequest(prompt: string): ExecRequest {
  return { kind: 'chat', body: { messages: [{ role: 'user', content: prompt }] } };
}
