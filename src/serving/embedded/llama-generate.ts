// Chat and text completions for the embedded server: one context of a chat model, and as many sequences as
// requests answered at once (`serve.parallel`). Each sequence has the full context size; a request waits for a free
// one (slot-pool.ts). Each request starts from a cleared sequence, so the token meter's difference is exactly that
// request's usage. Only the server process imports this: node-llama-cpp costs ~0.8 s to load.
import type { ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { LlamaChat, LlamaCompletion, type ChatHistoryItem, type LlamaContext, type LlamaContextSequence, type LlamaModel } from 'node-llama-cpp';
import { finishReason, fitToContext, promptText, sendJson, SseStream, type GenerationParams } from './openai-http.js';
import { chatMessages, generationParams } from './openai-schema.js';
import type { SlotPool } from './slot-pool.js';

interface Outcome {
  text: string;
  stopReason: string;
}

function history(body: Record<string, unknown>): ChatHistoryItem[] {
  const items: ChatHistoryItem[] = chatMessages(body).map((m) =>
    m.role === 'assistant' ? { type: 'model', response: [m.content] } : { type: m.role, text: m.content });
  items.push({ type: 'model', response: [] });
  return items;
}

/** A sequence requests run on, one at a time, with its chat and completion wrappers. */
export interface Session {
  sequence: LlamaContextSequence;
  chat: LlamaChat;
  completion: LlamaCompletion;
}

export type Kind = 'chat' | 'completion';

async function generate(session: Session, kind: Kind, body: Record<string, unknown>, params: GenerationParams,
  signal: AbortSignal, onText: (text: string) => void): Promise<Outcome & { promptTokens: number; completionTokens: number }> {
  const { sequence, chat, completion } = session;
  await sequence.clearHistory();
  const before = sequence.tokenMeter.getState();
  const common = {
    maxTokens: params.maxTokens, temperature: params.temperature, topP: params.topP, seed: params.seed,
    customStopTriggers: params.stop.length > 0 ? params.stop : undefined, signal, stopOnAbortSignal: true,
    onTextChunk: onText,
  };
  const result: Outcome = kind === 'chat'
    ? await chat.generateResponse(history(body), common).then((r) => ({ text: r.response, stopReason: r.metadata.stopReason }))
    : await completion.generateCompletionWithMeta(promptText(body), common).then((r) => ({ text: r.response, stopReason: r.metadata.stopReason }));
  const used = sequence.tokenMeter.diff(before);
  return { ...result, promptTokens: used.usedInputTokens, completionTokens: used.usedOutputTokens };
}

interface Request {
  kind: Kind;
  body: Record<string, unknown>;
  res: ServerResponse;
  modelId: string;
  params: GenerationParams;
  signal: AbortSignal;
  id: string;
  created: number;
}

/** Runs one request and answers it in OpenAI's shape, streamed (SSE) or as one JSON body. */
async function respond(session: Session, { kind, body, res, modelId, params, signal, id, created }: Request): Promise<void> {
  const object = kind === 'chat' ? 'chat.completion' : 'text_completion';
  const chunkObject = kind === 'chat' ? 'chat.completion.chunk' : 'text_completion';
  const stream = params.stream ? new SseStream(res) : undefined;
  const chunk = (delta: Record<string, unknown> | string, finish: string | null) => ({
    id, object: chunkObject, created, model: modelId,
    choices: [kind === 'chat' ? { index: 0, delta, finish_reason: finish } : { index: 0, text: delta, finish_reason: finish, logprobs: null }],
  });
  // OpenAI sends the role on its own first delta; clients rely on it to start the message.
  if (stream && kind === 'chat') stream.send(chunk({ role: 'assistant', content: '' }, null));
  const out = await generate(session, kind, body, params, signal, (text) => {
    if (text !== '') stream?.send(chunk(kind === 'chat' ? { content: text } : text, null));
  });
  const usage = { prompt_tokens: out.promptTokens, completion_tokens: out.completionTokens, total_tokens: out.promptTokens + out.completionTokens };
  const finish = finishReason(out.stopReason);
  if (stream) {
    stream.send({ ...chunk(kind === 'chat' ? {} : '', finish), usage });
    return stream.done();
  }
  const choice = kind === 'chat'
    ? { index: 0, message: { role: 'assistant', content: out.text }, finish_reason: finish, logprobs: null }
    : { index: 0, text: out.text, finish_reason: finish, logprobs: null };
  sendJson(res, 200, { id, object, created, model: modelId, choices: [choice], usage });
}

/** One session per sequence of the context. */
export function chatSessions(context: LlamaContext, count: number): Session[] {
  return Array.from({ length: count }, (): Session => {
    const sequence: LlamaContextSequence = context.getSequence();
    return { sequence, chat: new LlamaChat({ contextSequence: sequence }), completion: new LlamaCompletion({ contextSequence: sequence }) };
  });
}

/** Tokens the prompt takes in the context, counted the way generation will lay it out. */
function promptTokens(model: LlamaModel, session: Session, kind: Kind, body: Record<string, unknown>): number {
  // A completion starts with the model's BOS token, which tokenize() leaves out: count it rather than overflow by one.
  if (kind === 'completion') return model.tokenize(promptText(body)).length + 1;
  return session.chat.chatWrapper.generateContextState({ chatHistory: history(body) }).contextText.tokenize(model.tokenizer).length;
}

export async function answerGeneration(model: LlamaModel, pool: SlotPool<Session>, contextSize: number, kind: Kind,
  body: Record<string, unknown>, res: ServerResponse, modelId: string, signal: AbortSignal): Promise<void> {
  const asked = generationParams(body, contextSize);
  // Validate before queueing so a bad request fails at once with 400.
  const prompt = promptTokens(model, pool.any, kind, body);
  const params = { ...asked, maxTokens: fitToContext(asked, prompt, contextSize, kind === 'chat' ? 'messages' : 'prompt') };
  const id = `${kind === 'chat' ? 'chatcmpl' : 'cmpl'}-${randomUUID()}`;
  const created = Math.floor(Date.now() / 1000);
  await pool.use(signal, (session) => respond(session, { kind, body, res, modelId, params, signal, id, created }));
}
