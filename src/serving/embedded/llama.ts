// The embedded engine: a detached llama-server.js child per deployment, which `ps` and `stop` find again from the
// record alone. The record names the process by pid, start time and command line, so a pid reused by another
// process is never taken for ours (process-identity.ts).
import type { ChildProcess } from 'node:child_process';
import { readdir, rm, stat } from 'node:fs/promises';
import { availableParallelism, freemem } from 'node:os';
import { freeGpuMemory } from './gpu-memory.js';
import { basename, dirname, join } from 'node:path';
import { EngineError } from '../../lib/errors.js';
import { pollUntil } from '../../lib/poll.js';
import type { Checkpoint, DeploymentRecord, DeploymentSpec, Engine, EngineEvent, LiveDeployment, StopOutcome } from '../engine.js';
import { canIdentifyProcesses, isSameProcess, processIdentity } from '../process-identity.js';
import { isAlive, logTail, portIsFree, probe } from '../process-utils.js';
import { readGpuFacts, readReadyFile, spawnServer, runFilesOf } from './server-process.js';

export { askServerScript, serverScriptPath } from './server-process.js';

export interface EmbeddedEngineOptions {
  /** Free memory in bytes; injectable so the refusal can be tested without exhausting a machine. */
  freeMemory?: () => number;
  /** How long loading may take before we give up (default 120 s; a 7B model loads in well under that). */
  startTimeoutMs?: number;
  /** Size past which the server's log rotates (default 10 MiB; one previous file is kept). */
  logMaxBytes?: number;
}

const MiB = 1024 * 1024;

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
const portInUse = (port: number | undefined) =>
  new EngineError(`port ${port} on 127.0.0.1 is already in use`, { hint: 'choose another --port, or --port 0 for any free one' });

/**
 * Whether the record's process is still the server it names. A record from a system that could not identify
 * processes when it was written carries no start time; there, and only there, the pid alone has to do.
 */
function isOurServer(record: DeploymentRecord): boolean {
  if (!record.pid) return false;
  if (record.pidStartTime !== undefined && record.cmdline !== undefined) {
    return isSameProcess({ pid: record.pid, startTime: record.pidStartTime, cmdline: record.cmdline });
  }
  return !canIdentifyProcesses() && isAlive(record.pid);
}

export class EmbeddedEngine implements Engine {
  readonly kind = 'embedded' as const;
  constructor(private readonly options: EmbeddedEngineOptions = {}) {}

  async start(spec: DeploymentSpec, onEvent?: (event: EngineEvent) => void, checkpoint?: Checkpoint): Promise<DeploymentRecord> {
    const ctxSize = spec.ctxSize ?? 2048;
    const parallel = spec.parallel ?? defaultParallel();
    // Each request served at once has its own context, so its cache counts once per sequence.
    await this.checkResources(spec, ctxSize * parallel);
    const { logFile, readyFile } = await runFilesOf(spec);
    const child = await spawnServer(spec, { ctxSize, threads: spec.threads ?? defaultThreads(), parallel, gpu: spec.gpu ?? 'auto', logFile, readyFile, logMaxBytes: this.options.logMaxBytes ?? 10 * MiB });
    // Killed if this CLI exits (Ctrl-C) before the server is ready: the record says starting, a rerun starts afresh.
    const killOrphan = () => child.exitCode === null && child.pid !== undefined && process.kill(child.pid, 'SIGKILL');
    process.once('exit', killOrphan);
    try {
      const identity = child.pid === undefined ? undefined : processIdentity(child.pid);
      const starting: DeploymentRecord = {
        name: spec.name, state: 'starting', engine: 'embedded', model: spec.model, modelId: spec.modelId, quant: spec.quant,
        modelPath: spec.modelPath, endpoint: '', startedAt: new Date().toISOString(), pid: child.pid, logFile,
        ...(identity ? { pidStartTime: identity.startTime, cmdline: identity.cmdline } : {}),
      };
      await checkpoint?.(starting);
      onEvent?.({ phase: 'load', message: `loading ${basename(spec.modelPath)} (log: ${logFile})` });
      const port = await this.waitUntilHealthy(child, readyFile, logFile, spec);
      const gpu = await readGpuFacts(port);
      onEvent?.({ phase: 'ready', message: `serving on http://127.0.0.1:${port}/v1 (${describeGpu(gpu, spec.gpu ?? 'auto')})` });
      return { ...starting, state: 'ready', endpoint: `http://127.0.0.1:${port}/v1`, port, startedAt: new Date().toISOString(), ...(gpu ? { gpu } : {}) };
    } catch (error) {
      if (child.exitCode === null && child.pid) process.kill(child.pid, 'SIGKILL');
      throw error;
    } finally {
      process.removeListener('exit', killOrphan);
      await rm(readyFile, { force: true });
    }
  }

  private async checkResources(spec: DeploymentSpec, ctxSize: number): Promise<void> {
    const needed = estimateMemory(await modelBytes(spec.modelPath), ctxSize);
    const free = (this.options.freeMemory ?? freemem)();
    // Layers the engine offloads to a GPU leave RAM: its free memory counts, asked for only when RAM falls short.
    const gpu = needed > free ? await freeGpuMemory(spec.gpu ?? 'auto') : undefined;
    if (needed > free + (gpu?.freeBytes ?? 0)) {
      const onGpu = gpu ? ` (+ ${human(gpu.freeBytes)} on the ${gpu.backend} GPU)` : '';
      throw new EngineError(`not enough memory for ${basename(spec.modelPath)}: it needs ~${human(needed)}, ${human(free)} free${onGpu}`, {
        hint: `try a smaller --ctx-size (now ${ctxSize} tokens over all sequences) or --parallel, a smaller quant with --quant (e.g. q4_k_m), or stop other models (\`aim ps\`)`,
      });
    }
    if (spec.port && !(await portIsFree(spec.port))) throw portInUse(spec.port);
  }

  private waitUntilHealthy(child: ChildProcess, readyFile: string, logFile: string, spec: DeploymentSpec): Promise<number> {
    const timeoutMs = this.options.startTimeoutMs ?? 120_000;
    let port: number | undefined;
    return pollUntil<number>(async () => {
      if (child.exitCode !== null || child.signalCode !== null) await this.crashed(child, logFile, spec);
      if (port === undefined) {
        const ready = await readReadyFile(readyFile, child.pid);
        if (ready?.error === 'EADDRINUSE') throw portInUse(spec.port);
        port = ready?.port;
      }
      if (port !== undefined && (await probe(`http://127.0.0.1:${port}/health`)) === 200) return { done: true, value: port };
      return { done: false };
    }, {
      intervalMs: 100, timeoutMs,
      onTimeout: () => new EngineError(`the engine did not become ready within ${timeoutMs / 1000} s`, { hint: `see ${logFile}` }),
    });
  }

  private async crashed(child: ChildProcess, logFile: string, spec: DeploymentSpec): Promise<never> {
    // The child wrote its log itself, synchronously, so every byte of it is in the file once it has exited.
    const tail = await logTail(logFile);
    const reason = causeOf(tail);
    const how = child.signalCode ? `signal ${child.signalCode}` : `exit code ${child.exitCode}`;
    throw new EngineError(`the engine stopped while loading ${basename(spec.modelPath)} (${how})${reason ? `: ${reason}` : ''}`, {
      hint: `last lines of ${logFile}:\n${indent(tail)}`,
    });
  }

  async list(records: DeploymentRecord[]): Promise<LiveDeployment[]> {
    return Promise.all(records.map(async (record): Promise<LiveDeployment> => {
      if (!isOurServer(record)) return { ...record, status: 'stopped' };
      if (record.port === undefined) return { ...record, status: 'starting' };
      // 3 s: an engine busy answering, on a loaded machine, may be slow to say it is healthy; a hung one never says.
      const health = await probe(`http://127.0.0.1:${record.port}/health`, 3000);
      return { ...record, status: health === 200 ? 'running' : health === 503 ? 'starting' : 'failed', detail: health === undefined ? 'not answering' : undefined };
    }));
  }

  /** Signals the server only while it is provably the process the record names; a reused pid is left alone. */
  async stop(record: DeploymentRecord): Promise<StopOutcome> {
    if (!record.pid || !isOurServer(record)) return 'gone';
    process.kill(record.pid, 'SIGTERM');
    // The server disposes the model (1-2 s) then exits; past 10 s something is stuck and SIGKILL is safe.
    if (await this.exited(record).then(() => true, () => false)) return 'stopped';
    if (isOurServer(record)) process.kill(record.pid, 'SIGKILL');
    await this.exited(record);
    return 'stopped';
  }

  private exited(record: DeploymentRecord): Promise<void> {
    return pollUntil<void>(async () => (isOurServer(record) ? { done: false } : { done: true, value: undefined }), {
      intervalMs: 50, timeoutMs: 10_000,
      onTimeout: () => new EngineError(`process ${record.pid} of ${record.name} did not exit within 10 s`, { hint: 'stop it yourself with `kill -9`' }),
    });
  }
}

function describeGpu(gpu: DeploymentRecord['gpu'], choice: 'auto' | 'off'): string {
  if (gpu?.backend) return `${gpu.backend} GPU, ${gpu.layers} layers offloaded`;
  return choice === 'off' ? 'CPU, --gpu off' : 'CPU, no GPU found';
}

/**
 * All cores but one: generation is compute-bound, and leaving a core free keeps the machine (and the HTTP side of
 * the server) responsive. On a 2-core machine that is 1, which is also what the research found fastest there:
 * more threads than free cores make llama.cpp's threads spin against each other.
 */
export function defaultThreads(): number {
  return Math.max(1, availableParallelism() - 1);
}

/**
 * Half the cores, from 1 to 4: each sequence decodes on the same threads, so past half the cores more sequences add
 * waiting more than throughput, and each holds a full context of memory. A 2-core machine serves one at a time.
 */
export function defaultParallel(cores = availableParallelism()): number {
  return Math.min(4, Math.max(1, Math.floor(cores / 2)));
}
