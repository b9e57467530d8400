// The embedded engine's server process: `node dist/serving/llama-server.js --model FILE ...`. It runs apart from
// the CLI because some malformed GGUF files make llama.cpp abort the whole process (GGML_ASSERT), which no JS
// try/catch survives, and because a deployment outlives the `aim run` that started it. It listens first (so
// /health answers 503 while the model loads, as llama-server does), reports its port in the ready file, then loads.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { writeAtomic } from '../../lib/atomic-write.js';
import { HttpError, readJsonBody, sendError, sendJson } from './openai-http.js';
import { loadLlamaModel, type LoadedModel, type Route } from './llama-model.js';
import { createServerLog } from './server-log.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    'model-id': { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
    'ctx-size': { type: 'string', default: '2048' },
    threads: { type: 'string', default: '1' },
    parallel: { type: 'string', default: '1' },
    'max-queued': { type: 'string' },
    gpu: { type: 'string', default: 'auto' },
    'ready-file': { type: 'string' },
    'log-file': { type: 'string' },
    'log-max-bytes': { type: 'string', default: String(10 * 1024 * 1024) },
    'check-binding': { type: 'boolean', default: false },
    'probe-gpu': { type: 'boolean', default: false },
  },
});
if (values['check-binding']) await checkBinding();
if (values['probe-gpu']) await probeGpu();
if (!values.model || !values['ready-file']) {
  console.error('usage: llama-server --model FILE --ready-file FILE [--model-id ID] [--host 127.0.0.1] [--port 0] [--ctx-size 2048] [--threads 1] [--parallel 1] [--max-queued N] [--gpu auto|off]');
  process.exit(2);
}
const modelPath = values.model;
const readyFile = values['ready-file'];
const modelId = values['model-id'] ?? modelPath;
const contextSize = Number(values['ctx-size']);
const threads = Number(values.threads);
const parallel = Number(values.parallel);
// Past this many waiting requests a new one gets 503 + Retry-After: a few answers' worth per slot.
const maxQueued = values['max-queued'] === undefined ? parallel * 8 : Number(values['max-queued']);
const gpu = values.gpu === 'off' ? 'off' : 'auto';
const created = Math.floor(Date.now() / 1000);

let loaded: LoadedModel | undefined;
let loadError: string | undefined;

// With --log-file, stdout is that file (the engine points it there) and the log rotates; without, plain lines.
const log = values['log-file']
  ? createServerLog({ path: values['log-file'], fd: 1, maxBytes: Number(values['log-max-bytes']) })
  : (message: string) => console.log(`${new Date().toISOString()} ${message}`);

async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method === 'GET' && (path === '/health' || path === '/v1/health')) {
    // Slot counts as llama.cpp's server reports them, so a load balancer or a test can see requests in flight.
    if (loaded) {
      const { busy, idle, queued, peakBusy } = loaded.stats();
      return sendJson(res, 200, { status: 'ok', slots_idle: idle, slots_processing: busy, requests_queued: queued, peak_slots_processing: peakBusy });
    }
    return sendJson(res, 503, { error: { code: 503, message: loadError ?? 'Loading model', type: 'unavailable_error' } });
  }
  // llama.cpp's server answers /props with its slots (requests served at once); clients size their concurrency by it.
  if (req.method === 'GET' && path === '/props') {
    return sendJson(res, 200, { total_slots: loaded?.slots ?? parallel, default_generation_settings: { n_ctx: contextSize },
      model_kind: loaded?.kind, gpu: loaded?.gpu ?? false, gpu_layers: loaded?.gpuLayers ?? 0 });
  }
  if (req.method === 'GET' && (path === '/v1/models' || path === '/models')) {
    return sendJson(res, 200, { object: 'list', data: [{ id: modelId, object: 'model', created, owned_by: 'aim' }] });
  }
  const generate = ROUTES.get(path ?? '');
  if (!generate) throw new HttpError(404, `no route ${req.method} ${path}`, 'invalid_request_error', null, 'not_found');
  if (req.method !== 'POST') throw new HttpError(405, `${path} takes POST`);
  const body = await readJsonBody(req);
  if (!loaded) throw new HttpError(503, 'Loading model', 'unavailable_error', null, null, 1);
  // A client that hangs up stops its generation, or leaves the queue if it was still waiting for a slot.
  const abort = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) abort.abort();
  });
  return loaded.handle(generate, body, res, modelId, abort.signal);
}

const ROUTES = new Map<string, Route>([
  ['/v1/chat/completions', 'chat'], ['/chat/completions', 'chat'], ['/v1/completions', 'completion'], ['/completions', 'completion'],
  ['/v1/embeddings', 'embedding'], ['/embeddings', 'embedding'],
]);

const server = createServer((req, res) => {
  route(req, res).catch((error: unknown) => {
    // A client that hangs up is ordinary (a user pressing Ctrl-C in a chat): one line, no stack, nothing to answer.
    if (req.socket.destroyed) return log(`${req.method} ${(req.url ?? '/').split('?')[0]}: the client hung up before the answer`);
    const httpError = error instanceof HttpError ? error : new HttpError(500, (error as Error).message ?? String(error), 'server_error');
    if (!(error instanceof HttpError)) log(`error: ${(error as Error).stack ?? error}`);
    if (res.headersSent) res.end();
    else sendError(res, httpError);
  });
});

async function shutdown(signal: string): Promise<void> {
  log(`${signal}: shutting down`);
  server.close();
  server.closeAllConnections();
  // Disposing frees the model's memory promptly; it takes a second or two, and exiting anyway is safe.
  const timer = setTimeout(() => process.exit(0), 5000);
  timer.unref();
  await loaded?.dispose().catch(() => undefined);
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));

server.on('error', (error: NodeJS.ErrnoException) => {
  log(`cannot listen on ${values.host}:${values.port}: ${error.code ?? error.message}`);
  void writeAtomic(readyFile, JSON.stringify({ pid: process.pid, error: error.code ?? error.message }), { durable: false })
    .finally(() => process.exit(3));
});

server.listen(Number(values.port), values.host, () => {
  const { port } = server.address() as AddressInfo;
  log(`listening on http://${values.host}:${port} (pid ${process.pid}); loading ${modelPath}`);
  void (async () => {
    await writeAtomic(readyFile, JSON.stringify({ pid: process.pid, port }), { durable: false });
    try {
      const started = Date.now();
      loaded = await loadLlamaModel({ modelPath, contextSize, threads, parallel, maxQueued, gpu, log });
      const where = loaded.gpu ? `${loaded.gpu} GPU, ${loaded.gpuLayers} layers offloaded` : gpu === 'off' ? 'CPU (--gpu off)' : 'CPU (no GPU found)';
      log(`${loaded.kind} model loaded in ${Date.now() - started} ms (context ${contextSize}, threads ${threads}, parallel ${parallel}, ${where})`);
    } catch (error) {
      loadError = (error as Error).message;
      log(`failed to load model: ${loadError}`);
      process.exit(4);
    }
  })();
});

/** `aim doctor`: loads llama.cpp's native binding as serving would, without a model, and says whether it loads. */
/** Prints the GPU node-llama-cpp would use and its free memory ({"backend": false} for none), for gpu-memory.ts. */
async function probeGpu(): Promise<never> {
  try {
    const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
    const llama = await getLlama({ gpu: 'auto', build: 'never', logLevel: LlamaLogLevel.disabled });
    const vram = llama.gpu === false ? undefined : await llama.getVramState();
    await llama.dispose();
    console.log(JSON.stringify(vram ? { backend: llama.gpu, free: vram.free, unified: vram.unifiedSize } : { backend: false }));
  } catch {
    console.log(JSON.stringify({ backend: false }));
  }
  process.exit(0);
}

async function checkBinding(): Promise<never> {
  try {
    const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
    const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
    await llama.dispose();
    console.log(JSON.stringify({ ok: true }));
    process.exit(0);
  } catch (error) {
    console.log(JSON.stringify({ ok: false, error: ((error as Error)?.message ?? String(error)).split('\n')[0] }));
    process.exit(1);
  }
}
