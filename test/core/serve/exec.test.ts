// exec's two edges that take untrusted input: the request (from a flag, file, stdin or an agent) and the answer of
// whatever listens on a recorded endpoint (a port may by now belong to any server). A real HTTP server plays the
// hostile endpoint.
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineError, UsageError } from '../../../src/lib/errors.js';
import { answerText, sendExecRequest } from '../../../src/core/serve/exec-http.js';
import { MAX_EXEC_INPUT_BYTES, checkExecInput, parseExecInput, promptRequest } from '../../../src/core/serve/exec-input.js';

describe('exec input', () => {
  it('takes a chat or a completion, passing unknown OpenAI fields through', () => {
    expect(parseExecInput('{"messages":[{"role":"user","content":"hi"}],"max_tokens":4,"logit_bias":{}}', '--input')).toEqual({
      kind: 'chat', body: { messages: [{ role: 'user', content: 'hi' }], max_tokens: 4, logit_bias: {} },
    });
    expect(checkExecInput({ prompt: ['Once'] }, 'input')).toEqual({ kind: 'completion', body: { prompt: ['Once'] } });
    expect(promptRequest('why?')).toEqual({ kind: 'chat', body: { messages: [{ role: 'user', content: 'why?' }] } });
  });

  it('refuses what is not one request, naming where it came from', () => {
    const refused = (text: string, message: RegExp) => {
      expect(() => parseExecInput(text, 'request.json')).toThrow(UsageError);
      expect(() => parseExecInput(text, 'request.json')).toThrow(message);
    };
    refused('{"messages":', /^request\.json is not valid JSON/);
    refused('"hi"', /request\.json must be a JSON object/);
    refused('{}', /either "messages" \(a chat\) or "prompt"/);
    refused('{"prompt":"a","messages":[]}', /, not both/);
    refused('{"messages":[{"role":"tool","content":"x"}]}', /messages\.0\.role/);
    refused('{"messages":[{"role":"user","content":{"$ref":"x"}}]}', /messages\.0\.content/);
    refused('{"prompt":"a","temperature":7}', /temperature/);
    refused('{"prompt":"a","stream":true}', /asks for a stream/);
    refused(JSON.stringify({ prompt: 'x'.repeat(MAX_EXEC_INPUT_BYTES) }), /more than the 1048576 a request may have/);
  });
});

describe('exec request to an endpoint that answers anything', () => {
  let server: Server;
  let endpoint: string;
  let reply: (res: ServerResponse) => void;
  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => reply(res));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const send = () => sendExecRequest(endpoint, 'team/tiny:v1', promptRequest('hi'));
  const json = (status: number, body: unknown) => (res: ServerResponse) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));

  it('returns a checked completion as the server sent it', async () => {
    const body = { id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'hello' }, finish_reason: 'stop' }] };
    reply = json(200, body);
    const response = await send();
    expect(response).toEqual(body);
    expect(Object.keys(response)).toEqual(Object.keys(body));
    expect(answerText(response)).toBe('hello');
  });

  it('turns refusals, garbage and floods into one EngineError naming the endpoint', async () => {
    const refusedWith = async (message: RegExp) => {
      const error = await send().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(EngineError);
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).toContain(`${endpoint}/chat/completions`);
    };
    reply = json(503, { error: { message: `Loading model ${'x'.repeat(10_000)}` } });
    await refusedWith(/refused the request \(HTTP 503\): Loading model x{486}\.\.\.$/);
    reply = (res) => res.end('<html>not an API</html>');
    await refusedWith(/something that is not JSON/);
    reply = json(200, { id: 'x', object: 'chat.completion', choices: [] });
    await refusedWith(/no completion: choices/);
    reply = json(200, { object: 'chat.completion', choices: [{ text: 1 }] });
    await refusedWith(/no completion/);
    // An endless answer is cut at the bound, not buffered.
    reply = (res) => {
      res.writeHead(200);
      const chunk = Buffer.alloc(1024 * 1024, 0x20);
      const pump = () => {
        while (!res.destroyed && res.write(chunk));
        if (!res.destroyed) res.once('drain', pump);
      };
      pump();
    };
    await refusedWith(/answered with more than \d+ bytes/);
  });

  it('blames the request, not the engine, for a 4xx', async () => {
    reply = json(400, { error: { message: "This model's maximum context length is 512 tokens" } });
    const error = await send().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).message).toMatch(/refused the request \(HTTP 400\): This model's maximum context length is 512 tokens/);
    expect((error as UsageError).hint).toMatch(/--ctx-size/);
  });

  it('says so when nothing listens', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await expect(sendExecRequest(`http://127.0.0.1:${port}/v1`, 'm', promptRequest('hi'))).rejects.toThrow(/did not answer/);
  });
});
