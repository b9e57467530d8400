// The HTTP side of the embedded engine's OpenAI-compatible API: request parsing, JSON and SSE replies, and error
// bodies in OpenAI's `{error: {message, type, param, code}}` shape so OpenAI client libraries surface them as-is.
// Kept free of node-llama-cpp so it can be read and tested on its own.
import type { IncomingMessage, ServerResponse } from 'node:http';

export class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly type = 'invalid_request_error', readonly param: string | null = null, readonly code: string | null = null,
    /** Seconds a client should wait before retrying (a 503 when busy). */
    readonly retryAfter?: number) {
    super(message);
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendError(res: ServerResponse, error: HttpError): void {
  const headers: Record<string, string> = error.retryAfter === undefined ? {} : { 'retry-after': String(error.retryAfter) };
  sendJson(res, error.status, { error: { message: error.message, type: error.type, param: error.param, code: error.code } }, headers);
}

const MAX_BODY_BYTES = 1024 * 1024;

/**
 * Reads a JSON object body (1 MiB at most: prompts for a local model, not uploads). Past the cap the rest is read and
 * dropped rather than the stream destroyed: destroying it takes the socket down, and the client would get a reset
 * instead of the 413 that says why.
 */
export function readJsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      if (size > MAX_BODY_BYTES) return;
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
      else {
        chunks.length = 0;
        reject(new HttpError(413, 'request body is larger than 1 MiB'));
      }
    });
    req.on('end', () => {
      if (size <= MAX_BODY_BYTES) settle(() => parseJsonObject(Buffer.concat(chunks)), resolve, reject);
    });
    req.on('error', reject);
  });
}

function settle<T>(work: () => T, resolve: (value: T) => void, reject: (error: unknown) => void): void {
  try {
    resolve(work());
  } catch (error) {
    reject(error);
  }
}

function parseJsonObject(bytes: Buffer): Record<string, unknown> {
  let body: unknown;
  try {
    body = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new HttpError(400, 'request body is not valid JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpError(400, 'request body must be a JSON object');
  return body as Record<string, unknown>;
}

/** Server-sent events as OpenAI streams them: `data: <json>` frames, then `data: [DONE]`. */
export class SseStream {
  constructor(private readonly res: ServerResponse) {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  }
  send(data: unknown): void {
    // A client that hung up mid-stream gets nothing more; generation stops on the abort signal meanwhile.
    if (this.res.destroyed) return;
    this.res.write(`data: ${JSON.stringify(data)}\n\n`);
  }
  done(): void {
    if (this.res.destroyed) return;
    this.res.end('data: [DONE]\n\n');
  }
}

export interface GenerationParams {
  maxTokens: number;
  /** Whether the request named max_tokens (OpenAI refuses such a request that does not fit; a default is trimmed). */
  maxTokensRequested: boolean;
  temperature: number;
  topP?: number;
  seed?: number;
  stop: string[];
  stream: boolean;
}

export function promptText(body: Record<string, unknown>): string {
  const prompt = Array.isArray(body.prompt) && body.prompt.length === 1 ? body.prompt[0] : body.prompt;
  if (typeof prompt !== 'string') throw new HttpError(400, 'prompt must be a string', 'invalid_request_error', 'prompt');
  return prompt;
}

export function finishReason(stopReason: string): 'stop' | 'length' {
  return stopReason === 'maxTokens' ? 'length' : 'stop';
}

/**
 * The completion budget once the prompt is counted, or a 400 `context_length_exceeded` as OpenAI and llama.cpp's
 * server answer: generating anyway would make llama.cpp shift the context, silently dropping the start of the
 * conversation. A default max_tokens is trimmed to what is left; one the client asked for is not.
 */
export function fitToContext(params: GenerationParams, promptTokens: number, contextSize: number, param: string): number {
  const left = contextSize - promptTokens;
  if (left >= params.maxTokens) return params.maxTokens;
  if (left >= 1 && !params.maxTokensRequested) return left;
  const wanted = promptTokens + (params.maxTokensRequested ? params.maxTokens : 1);
  throw new HttpError(400, `This model's maximum context length is ${contextSize} tokens. However, you requested ${wanted} tokens `
    + `(${promptTokens} in the ${param}, ${wanted - promptTokens} in the completion). Please reduce the length of the ${param} or completion.`,
  'invalid_request_error', param, 'context_length_exceeded');
}
