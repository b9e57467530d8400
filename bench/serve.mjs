#!/usr/bin/env node
// Serving benchmark (issue 23): `npm run bench -- --only serve`. Starts the embedded engine's server process on the
// tiny fixture model and streams completions from 1 and 4 concurrent clients, measuring time to first token (first
// content chunk) and tokens per second (completion tokens counted by the server, over wall time). llama.cpp's own
// llama-server is compared only when a `llama-server` binary is on PATH: it is not in Debian bookworm, this
// machine has no network beyond npm, and node-llama-cpp ships only its Node addon (llama-addon.node), no server.
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const at = args.indexOf(name);
  return at >= 0 ? Number(args[at + 1]) : fallback;
};
const rounds = flag('--rounds', 3);
const maxTokens = flag('--tokens', 128);
const threads = flag('--threads', Math.max(1, availableParallelism() - 1));
const work = join(root, 'bench', 'work', 'serve');
const { writeTinyGgufInto } = await import(join(root, 'dist', 'fixtures', 'tiny-gguf.js'));
const serverScript = join(root, 'dist', 'serving', 'embedded', 'llama-server.js');

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function startServer(model, parallel) {
  const readyFile = join(work, `ready-${parallel}.json`);
  await rm(readyFile, { force: true });
  const child = spawn(process.execPath, [serverScript, '--model', model, '--ready-file', readyFile, '--ctx-size', '2048',
    '--threads', String(threads), '--parallel', String(parallel), '--gpu', 'off'], { stdio: 'ignore' });
  for (;;) {
    const ready = JSON.parse(await readFile(readyFile, 'utf8').catch(() => 'null'));
    if (ready?.port && (await fetch(`http://127.0.0.1:${ready.port}/health`).then((r) => r.status, () => 0)) === 200) {
      return { child, base: `http://127.0.0.1:${ready.port}` };
    }
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** One streamed completion: ms to the first content chunk, ms in all, and the tokens the server counted. */
async function streamOne(base, seed) {
  const started = performance.now();
  const res = await fetch(`${base}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: `Story ${seed}: once upon a time`, max_tokens: maxTokens, temperature: 0, stream: true }) });
  const decoder = new TextDecoder();
  let firstMs;
  let text = '';
  for await (const bytes of res.body) {
    text += decoder.decode(bytes, { stream: true });
    if (firstMs === undefined && /"text":"[^"]/.test(text)) firstMs = performance.now() - started;
  }
  const frames = text.trim().split('\n\n').map((f) => f.slice(6)).filter((f) => f !== '[DONE]').map((f) => JSON.parse(f));
  return { firstMs, totalMs: performance.now() - started, tokens: frames.at(-1).usage.completion_tokens };
}

async function measure(base, clients) {
  const ttft = [];
  const rates = [];
  for (let round = 0; round < rounds; round++) {
    const started = performance.now();
    const answers = await Promise.all(Array.from({ length: clients }, (_, i) => streamOne(base, round * 10 + i)));
    const wallSeconds = (performance.now() - started) / 1000;
    ttft.push(...answers.map((a) => a.firstMs));
    rates.push(answers.reduce((sum, a) => sum + a.tokens, 0) / wallSeconds);
  }
  return { ttftMs: median(ttft), ttftMaxMs: Math.max(...ttft), tokensPerSecond: median(rates) };
}

await mkdir(work, { recursive: true });
const model = await writeTinyGgufInto(work, { quant: 'q8_0', seed: 7 });
const llamaServer = spawnSync('sh', ['-c', 'command -v llama-server'], { encoding: 'utf8' }).stdout.trim();
const rows = [];
for (const [parallel, clients] of [[1, 1], [1, 4], [4, 1], [4, 4]]) {
  const { child, base } = await startServer(model, parallel);
  try {
    await streamOne(base, 999); // warm-up: first evaluation allocates buffers
    rows.push({ engine: 'aim embedded', parallel, clients, ...(await measure(base, clients)) });
  } finally {
    child.kill('SIGTERM');
  }
  const r = rows.at(-1);
  console.log(`parallel ${parallel}, ${clients} client(s): TTFT median ${r.ttftMs.toFixed(1)} ms (max ${r.ttftMaxMs.toFixed(1)}), ${r.tokensPerSecond.toFixed(0)} tokens/s in all`);
}
const report = {
  when: new Date().toISOString(), machine: { cpus: cpus().length, model: cpus()[0]?.model, loadavg: loadavg() },
  setup: { model: 'tiny llama fixture, q8_0, 2 layers, 64 wide', maxTokens, rounds, threads, ctxSize: 2048 },
  llamaServer: llamaServer || 'not installed (not in Debian bookworm; node-llama-cpp ships no llama-server binary)',
  rows,
};
const out = join(root, 'bench', 'results', `serve-${report.when.replace(/[:.]/g, '-')}.json`);
await mkdir(dirname(out), { recursive: true });
await writeFile(out, JSON.stringify(report, null, 2));
console.log(`llama-server: ${report.llamaServer}\nwritten ${out}`);
