// The shapes of the bodies the embedded engine accepts, as valibot schemas: a request that does not fit is answered
// with one 400 in OpenAI's error shape naming the first field that is wrong (`messages[3].role`), never a crash. The
// body is already bounded to 1 MiB (openai-http.ts); the message count is bounded too, so that a body of 10^5 tiny
// messages is refused before a chat template is applied to it.
import * as v from 'valibot';
import { HttpError } from './openai-http.js';

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
