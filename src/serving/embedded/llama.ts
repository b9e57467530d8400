// The embedded engine: llama.cpp (node-llama-cpp) in a detached `node dist/serving/embedded/llama-server.js` process that
// outlives `aim run`, with its stdout and stderr in a log file beside its record, so a crash while loading (which
// can be an abort inside llama.cpp, not a JS error) is explained by the tail of that log.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { availableParallelism, freemem } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EngineError } from '../../lib/errors.js';
import type { DeploymentRecord, DeploymentSpec, Engine, EngineEvent, LiveDeployment } from '../engine.js';
import { isAlive, logTail, portIsFree, probe, sleep } from '../process-utils.js';

export interface EmbeddedEngineOptions {
  /** Free memory in bytes; injectable so the refusal can be tested without exhausting a machine. */
  freeMemory?: () => number;
  /** How long loading may take before we give up (default 120 s; a 7B model loads in well under that). */
  startTimeoutMs?: number;
}

const MiB = 1024 * 1024;

/** The compiled server script; tests run from src/ and use the built one, which `npm test` builds first. */
export function serverScriptPath(): string {
  const sibling = fileURLToPath(new URL('./llama-server.js', import.meta.url));
  return existsSync(sibling) ? sibling : fileURLToPath(new URL('../../../dist/serving/embedded/llama-server.js', import.meta.url));
}

async function modelBytes(path: string): Promise<number> {
  // Loaded here, not with the module: `aim ps` loads this engine and does not need the GGUF package.
  const { ggufShardName } = await import('../gguf-shard-name.js');
  const split = ggufShardName(basename(path));
  if (!split) return (await stat(path)).size;
  const shards = (await readdir(dirname(path))).filter((f) => {
    const other = ggufShardName(f);
    return other?.prefix === split.prefix && other.total === split.total;
  });
  const sizes = await Promise.all(shards.map(async (f) => (await stat(join(dirname(path), f))).size));
  return sizes.reduce((a, b) => a + b, 0);
}

/**
 * Memory the server needs, roughly: weights are mmapped and fully touched on CPU, plus the KV cache (bounded here
 * by a generous 0.5 MiB per context token, right for 7B-class models) and ~150 MiB of runtime.
 */
export function estimateMemory(fileBytes: number, ctxSize: number): number {
  return fileBytes + Math.min(ctxSize * 0.5 * MiB, fileBytes) + 150 * MiB;
}

const human = (bytes: number): string => (bytes >= 1024 ** 3 ? `${(bytes / 1024 ** 3).toFixed(1)} GiB` : `${Math.round(bytes / MiB)} MiB`);

// llama.cpp's own "error loading model: ..." line is the cause; node-llama-cpp's later lines ("Failed to load
// model", or a warning about its resource simulation) only repeat it. An abort shows as an assert or terminate.
const CAUSES = [/error loading model: /i, /GGML_ASSERT|terminate called|std::|abort/i, /error|failed/i];

function causeOf(tail: string): string | undefined {
  const lines = tail.split('\n');
  for (const pattern of CAUSES) {
    const line = lines.find((l) => pattern.test(l));
    if (line) return line.replace(/^\S+Z /, '').replace(/^llama\.cpp: (\w+: )?/, '');
  }
  return undefined;
}

const indent = (text: string): string => text.split('\n').map((l) => `    ${l}`).join('\n');

export class EmbeddedEngine implements Engine {
  readonly kind = 'embedded' as const;
  constructor(private readonly options: EmbeddedEngineOptions = {}) {}

  async start(spec: DeploymentSpec, onEvent?: (event: EngineEvent) => void): Promise<DeploymentRecord> {
    const ctxSize = spec.ctxSize ?? 2048;
    const needed = estimateMemory(await modelBytes(spec.modelPath), ctxSize);
    const free = (this.options.freeMemory ?? freemem)();
    if (needed > free) {
      throw new EngineError(`not enough memory for ${basename(spec.modelPath)}: it needs about ${human(needed)}, ${human(free)} is free`, {
        hint: 'pick a smaller quantization with --quant (e.g. q4_k_m), a smaller --ctx-size, or stop other models (`aim ps`)',
      });
    }
    if (spec.port && !(await portIsFree(spec.port))) {
      throw new EngineError(`port ${spec.port} on 127.0.0.1 is already in use`, { hint: 'choose another --port, or --port 0 for any free one' });
    }
    await mkdir(spec.runDir, { recursive: true });
    const logFile = join(spec.runDir, `${spec.name}.log`);
    const readyFile = join(spec.runDir, `${spec.name}.ready.json`);
    await rm(readyFile, { force: true });
    const child = this.spawnServer(spec, ctxSize, logFile, readyFile);
    // Until a record names it, a server orphaned by Ctrl-C during loading could never be stopped with `aim stop`.
    const killOrphan = () => child.exitCode === null && child.pid !== undefined && process.kill(child.pid, 'SIGKILL');
    process.once('exit', killOrphan);
    onEvent?.({ phase: 'load', message: `loading ${basename(spec.modelPath)} (log: ${logFile})` });
    try {
      const port = await this.waitUntilHealthy(child, readyFile, logFile, spec);
      onEvent?.({ phase: 'ready', message: `serving on http://127.0.0.1:${port}/v1` });
      return {
        name: spec.name, engine: 'embedded', model: spec.model, modelId: spec.modelId, quant: spec.quant, modelPath: spec.modelPath,
        endpoint: `http://127.0.0.1:${port}/v1`, startedAt: new Date().toISOString(), pid: child.pid, port, logFile,
      };
    } catch (error) {
      if (child.exitCode === null && child.pid) process.kill(child.pid, 'SIGKILL');
      throw error;
    } finally {
      process.removeListener('exit', killOrphan);
      await rm(readyFile, { force: true });
    }
  }

  private spawnServer(spec: DeploymentSpec, ctxSize: number, logFile: string, readyFile: string): ChildProcess {
    const fd = openSync(logFile, 'a');
    try {
      const args = [serverScriptPath(), '--model', spec.modelPath, '--model-id', spec.modelId, '--port', String(spec.port ?? 0),
        '--ctx-size', String(ctxSize), '--threads', String(spec.threads ?? defaultThreads()), '--ready-file', readyFile];
      // Detached in its own process group, stdio to the log: the server survives the CLI exiting or a Ctrl-C in
      // its terminal, and nothing ties it to the CLI's pipes.
      const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', fd, fd] });
      child.unref();
      return child;
    } finally {
      closeSync(fd);
    }
  }

  private async waitUntilHealthy(child: ChildProcess, readyFile: string, logFile: string, spec: DeploymentSpec): Promise<number> {
    const deadline = Date.now() + (this.options.startTimeoutMs ?? 120_000);
    let port: number | undefined;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) await this.crashed(child, logFile, spec);
      if (port === undefined && existsSync(readyFile)) {
        const ready = JSON.parse(await readFile(readyFile, 'utf8')) as { port?: number; error?: string };
        if (ready.error === 'EADDRINUSE') {
          throw new EngineError(`port ${spec.port} on 127.0.0.1 is already in use`, { hint: 'choose another --port, or --port 0 for any free one' });
        }
        port = ready.port;
      }
      if (port !== undefined && (await probe(`http://127.0.0.1:${port}/health`)) === 200) return port;
      await sleep(100);
    }
    throw new EngineError(`the engine did not become ready within ${(this.options.startTimeoutMs ?? 120_000) / 1000} s`, {
      hint: `see ${logFile}:\n${indent(await logTail(logFile))}`,
    });
  }

  private async crashed(child: ChildProcess, logFile: string, spec: DeploymentSpec): Promise<never> {
    // The exit event can precede the last log bytes reaching the file by a moment.
    await sleep(50);
    const tail = await logTail(logFile);
    const reason = causeOf(tail);
    const how = child.signalCode ? `signal ${child.signalCode}` : `exit code ${child.exitCode}`;
    throw new EngineError(`the engine stopped while loading ${basename(spec.modelPath)} (${how})${reason ? `: ${reason}` : ''}`, {
      hint: `last lines of ${logFile}:\n${indent(tail)}`,
    });
  }

  async list(records: DeploymentRecord[]): Promise<LiveDeployment[]> {
    return Promise.all(records.map(async (record): Promise<LiveDeployment> => {
      if (!record.pid || !isAlive(record.pid)) return { ...record, status: 'stopped' };
      // 3 s: an engine busy answering, on a loaded machine, may be slow to say it is healthy; a hung one never says.
      const health = await probe(`http://127.0.0.1:${record.port}/health`, 3000);
      return { ...record, status: health === 200 ? 'running' : health === 503 ? 'starting' : 'failed', detail: health === undefined ? 'not answering' : undefined };
    }));
  }

  async stop(record: DeploymentRecord): Promise<void> {
    if (!record.pid || !isAlive(record.pid)) return;
    process.kill(record.pid, 'SIGTERM');
    // The server disposes the model (1-2 s) then exits; past 10 s something is stuck and SIGKILL is safe.
    for (let waited = 0; waited < 10_000; waited += 50) {
      if (!isAlive(record.pid)) return;
      await sleep(50);
    }
    process.kill(record.pid, 'SIGKILL');
    while (isAlive(record.pid)) await sleep(50);
  }
}

/**
 * All cores but one: generation is compute-bound, and leaving a core free keeps the machine (and the HTTP side of
 * the server) responsive. On a 2-core machine that is 1, which is also what the research found fastest there:
 * more threads than free cores make llama.cpp's threads spin against each other.
 */
export function defaultThreads(): number {
  return Math.max(1, availableParallelism() - 1);
}
