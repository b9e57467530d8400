// The shapes of the bodies the embedded engine accepts (messages and the generation parameters), as valibot schemas: a request that does not fit is answered
// with one 400 in OpenAI's error shape naming the first field that is wrong (`messages[3].role`), never a crash. The
// body is already bounded to 1 MiB (openai-http.ts); the message count is bounded too, so that a body of 10^5 tiny
// messages is refused before a chat template is applied to it.
import * as v from 'valibot';
import { HttpError, type GenerationParams } from './openai-http.js';

/** More turns than any context holds; a longer conversation is a client bug or an attack. */
export const MAX_MESSAGES = 4096;

const TEXT_PART = v.object({
  type: v.literal('text', 'must be "text" (only text parts are understood by a text model)'),
  text: v.optional(v.string('must be a string'), ''),
});

const ROLE_MESSAGE = 'must be system, developer, user or assistant';
const CONTENT_MESSAGE = 'must be a string or text parts';
const MESSAGE = v.object(
  {
    role: v.picklist(['system', 'developer', 'user', 'assistant'], ROLE_MESSAGE),
    content: v.union([v.string(), v.array(TEXT_PART)], CONTENT_MESSAGE),
  },
  // A missing key is reported by the object, at the key's path: it gets the key's own message.
  (issue) => (issue.expected === '"role"' ? ROLE_MESSAGE : issue.expected === '"content"' ? CONTENT_MESSAGE : 'must be an object with role and content'),
);

const CHAT_BODY = v.object({
  // The count is checked before any message is looked at.
  messages: v.pipe(
    v.optional(v.array(v.unknown(), 'must be a non-empty array'), []),
    v.minLength(1, 'must be a non-empty array'),
    v.maxLength(MAX_MESSAGES, `must hold at most ${MAX_MESSAGES} messages`),
    v.array(MESSAGE),
  ),
});

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** "messages.3.role" as OpenAI names it: "messages[3].role". */
function paramOf(issue: v.BaseIssue<unknown>): string {
  let param = '';
  for (const item of issue.path ?? []) {
    const key = (item as { key: unknown }).key;
    param += typeof key === 'number' ? `[${key}]` : `${param ? '.' : ''}${String(key)}`;
  }
  return param;
}

/**
 * The first problem, named by its field. A union reports its own message: the options' issues (a wrong part deep in
 * `content`) would name a field of an option the client may not have meant.
 */
function refusal(issues: [v.BaseIssue<unknown>, ...Array<v.BaseIssue<unknown>>]): HttpError {
  const issue = issues[0];
  const param = paramOf(issue) || 'body';
  return new HttpError(400, `${param} ${issue.message}`, 'invalid_request_error', param);
}

export function chatMessages(body: Record<string, unknown>): ChatMessage[] {
  const parsed = v.safeParse(CHAT_BODY, body, { abortEarly: true });
  if (!parsed.success) throw refusal(parsed.issues);
  return parsed.output.messages.map(({ role, content }) => ({
    role: role === 'developer' ? 'system' : role,
    content: typeof content === 'string' ? content : content.map((part) => part.text).join(''),
  }));
}

/** A number in [min, max], or absent (null counts as absent, as OpenAI's API takes it). JSON has no NaN or Infinity. */
function number(min: number, max: number) {
  const message = `must be a number between ${min} and ${max}`;
  return v.nullish(v.pipe(v.number(message), v.minValue(min, message), v.maxValue(max, message)));
}

const STOP_MESSAGE = 'must be a non-empty string or an array of up to 4 of them';
const STOP_WORD = v.pipe(v.string(STOP_MESSAGE), v.minLength(1, STOP_MESSAGE));

/** The generation parameters; token counts are bounded by the context the model was loaded with. */
function generationSchema(contextSize: number) {
  return v.object({
    max_completion_tokens: number(1, contextSize),
    max_tokens: number(1, contextSize),
    temperature: number(0, 2),
    top_p: number(0, 1),
    seed: number(-(2 ** 53), 2 ** 53),
    stop: v.nullish(v.union([STOP_WORD, v.pipe(v.array(STOP_WORD, STOP_MESSAGE), v.maxLength(4, STOP_MESSAGE))], STOP_MESSAGE)),
    stream: v.optional(v.boolean('must be a boolean')),
  });
}

export function generationParams(body: Record<string, unknown>, contextSize: number): GenerationParams {
  const parsed = v.safeParse(generationSchema(contextSize), body, { abortEarly: true });
  if (!parsed.success) throw refusal(parsed.issues);
  const { max_completion_tokens, max_tokens, temperature, top_p, seed, stop, stream } = parsed.output;
  const requested = max_completion_tokens ?? max_tokens ?? undefined;
  return {
    maxTokens: Math.floor(requested ?? 256),
    maxTokensRequested: requested !== undefined,
    temperature: temperature ?? 1,
    topP: top_p ?? undefined,
    seed: seed ?? undefined,
    stop: stop === null || stop === undefined ? [] : typeof stop === 'string' ? [stop] : stop,
    stream: stream === true,
  };
}
