// The chat body schema: what the embedded engine answers for bodies of the wrong shape (one 400 naming the field,
// in OpenAI's error shape), and what it makes of the right ones.
import { describe, expect, it } from 'vitest';
import { HttpError } from '../../src/serving/embedded/openai-http.js';
import { chatMessages, generationParams, MAX_MESSAGES } from '../../src/serving/embedded/openai-schema.js';

function refusal(body: unknown, read: (body: Record<string, unknown>) => unknown = chatMessages): HttpError {
  try {
    read(body as Record<string, unknown>);
  } catch (error) {
    expect(error).toBeInstanceOf(HttpError);
    return error as HttpError;
  }
  throw new Error('expected a refusal');
}

describe('chat messages', () => {
  it.each([
    ['messages', {}, 'messages must be a non-empty array'],
    ['messages', { messages: [] }, 'messages must be a non-empty array'],
    ['messages', { messages: 'hi' }, 'messages must be a non-empty array'],
    ['messages[0]', { messages: [5] }, 'messages[0] must be an object with role and content'],
    ['messages[1].role', { messages: [{ role: 'user', content: 'a' }, { role: 'robot', content: 'b' }] }, 'messages[1].role must be system, developer, user or assistant'],
    ['messages[0].content', { messages: [{ role: 'user' }] }, 'messages[0].content must be a string or text parts'],
    ['messages[0].content', { messages: [{ role: 'user', content: { text: 'a' } }] }, 'messages[0].content must be a string or text parts'],
    ['messages[0].content', { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: 'x' }] }] }, 'messages[0].content must be a string or text parts'],
    ['messages[0].content', { messages: [{ role: 'user', content: [{ type: 'text', text: 5 }] }] }, 'messages[0].content must be a string or text parts'],
    ['messages', { messages: Array(100_000).fill({}) }, `messages must hold at most ${MAX_MESSAGES} messages`],
  ])('case %# is refused 400 naming %s', (param, body, message) => {
    const error = refusal(body);
    expect({ status: error.status, param: error.param, message: error.message, type: error.type }).toEqual({ status: 400, param, message, type: 'invalid_request_error' });
  });

  it('takes strings and text parts, and developer as system', () => {
    expect(chatMessages({ messages: [{ role: 'developer', content: 'be brief' }, { role: 'user', content: [{ type: 'text', text: 'hi ' }, { type: 'text', text: 'there' }] }], extra: true }))
      .toEqual([{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hi there' }]);
  });
});

describe('generation parameters', () => {
  const read = (body: Record<string, unknown>) => generationParams(body, 512);
  it.each([
    ['max_tokens', { max_tokens: 'many' }, 'max_tokens must be a number between 1 and 512'],
    ['max_tokens', { max_tokens: 513 }, 'max_tokens must be a number between 1 and 512'],
    ['max_completion_tokens', { max_completion_tokens: 0 }, 'max_completion_tokens must be a number between 1 and 512'],
    ['temperature', { temperature: [1] }, 'temperature must be a number between 0 and 2'],
    ['top_p', { top_p: 1.5 }, 'top_p must be a number between 0 and 1'],
    ['stop', { stop: ['a', 'b', 'c', 'd', 'e'] }, 'stop must be a non-empty string or an array of up to 4 of them'],
    ['stop', { stop: [''] }, 'stop must be a non-empty string or an array of up to 4 of them'],
    ['stream', { stream: 'yes' }, 'stream must be a boolean'],
  ])('case %# is refused 400 naming %s', (param, body, message) => {
    const error = refusal(body, read);
    expect({ status: error.status, param: error.param, message: error.message }).toEqual({ status: 400, param, message });
  });

  it('defaults what is absent or null, and prefers max_completion_tokens', () => {
    expect(read({ max_tokens: null, temperature: null, stop: null })).toEqual({ maxTokens: 256, maxTokensRequested: false, temperature: 1, topP: undefined, seed: undefined, stop: [], stream: false });
    expect(read({ max_completion_tokens: 7, max_tokens: 9, stop: 'x', stream: true, seed: 3, top_p: 0.5 }))
      .toEqual({ maxTokens: 7, maxTokensRequested: true, temperature: 1, topP: 0.5, seed: 3, stop: ['x'], stream: true });
  });
});
