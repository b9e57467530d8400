// Spawning the embedded engine's server process and reading what it reports back. Its files live in the run folder
// inside AIM_HOME, which is read back later and could hold anything: the deployment name must be one plain file
// name, the log is opened without following a link, and the ready file is read bounded and checked.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { constants, existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as v from 'valibot';
import { UsageError } from '../../lib/errors.js';
import { openRegular, readRegularFileIfExists, realFolder } from '../../lib/safe-fs.js';
import type { DeploymentSpec } from '../engine.js';

/** The compiled server script; tests run from src/ and use the built one, which `npm test` builds first. */
export function serverScriptPath(): string {
  const sibling = fileURLToPath(new URL('./llama-server.js', import.meta.url));
  return existsSync(sibling) ? sibling : fileURLToPath(new URL('../../../dist/serving/embedded/llama-server.js', import.meta.url));
}

/**
 * Runs the server script with one question flag (`--check-binding`, `--probe-gpu`) in a child process, so the CLI
 * never loads node-llama-cpp itself, and gives its last stdout line checked against `schema`: undefined when it
 * printed nothing valid, and `failure` says why (a timeout, or the exec error's first line).
 */
export function askServerScript<T>(flag: string, schema: v.GenericSchema<unknown, T>, timeoutMs: number): Promise<{ reply?: T; failure: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [serverScriptPath(), flag], { timeout: timeoutMs, maxBuffer: 64 * 1024 }, (error, stdout) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(stdout.trim().split('\n').at(-1) ?? '');
      } catch {
        parsed = undefined;
      }
      const result = v.safeParse(schema, parsed);
      const failure = error?.killed ? `did not answer within ${timeoutMs / 1000} s` : (error?.message.split('\n')[0] ?? 'no answer');
      resolve(result.success ? { reply: result.output, failure } : { failure });
    });
  });
}

/** Deployment names become file names in the run folder; the caller validated them, this makes sure. */
const PLAIN_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export async function runFilesOf(spec: DeploymentSpec): Promise<{ logFile: string; readyFile: string }> {
  if (!PLAIN_NAME.test(spec.name) || spec.name.includes('..')) {
    throw new UsageError(`invalid deployment name "${spec.name}"`, { hint: 'use letters, digits, ".", "_" and "-", e.g. qwen2.5-7b-instruct' });
  }
  // The run folder is checked to be a real one: a link there would put the log and ready file anywhere.
  await realFolder(dirname(spec.runDir), [basename(spec.runDir)], { create: true });
  const readyFile = join(spec.runDir, `${spec.name}.ready.json`);
  // A stale ready file (or anything planted there) is removed, not followed: the server writes a fresh one.
  await rm(readyFile, { force: true, recursive: true });
  return { logFile: join(spec.runDir, `${spec.name}.log`), readyFile };
}


export interface ServerArgs {
  ctxSize: number;
  threads: number;
  parallel: number;
  gpu: 'auto' | 'off';
  logFile: string;
  readyFile: string;
  logMaxBytes: number;
}

export async function spawnServer(spec: DeploymentSpec, args: ServerArgs): Promise<ChildProcess> {
  // Appended to; a link, FIFO or device planted at its name is refused, not written through.
  const log = await openRegular(args.logFile, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT);
  try {
    const argv = [serverScriptPath(), '--model', spec.modelPath, '--model-id', spec.modelId, '--host', spec.host ?? '127.0.0.1', '--port', String(spec.port ?? 0),
      '--ctx-size', String(args.ctxSize), '--threads', String(args.threads), '--parallel', String(args.parallel), '--gpu', args.gpu, '--ready-file', args.readyFile,
      '--log-file', args.logFile, '--log-max-bytes', String(args.logMaxBytes)];
    // Detached in its own process group, stdio to the log: the server survives the CLI exiting or a Ctrl-C in
    // its terminal, and nothing ties it to the CLI's pipes.
    const child = spawn(process.execPath, argv, { detached: true, stdio: ['ignore', log.fd, log.fd] });
    child.unref();
    return child;
  } finally {
    await log.close();
  }
}

const ReadySchema = v.object({
  pid: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
  port: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(65535))),
  error: v.optional(v.pipe(v.string(), v.maxLength(200))),
});

/**
 * What the server wrote to its ready file ({pid, port} or {pid, error}), or undefined while there is none. Only a
 * file written by this child counts: a stale or planted one from another process is ignored until replaced.
 */
export async function readReadyFile(readyFile: string, pid: number | undefined): Promise<v.InferOutput<typeof ReadySchema> | undefined> {
  const bytes = await readRegularFileIfExists(readyFile, 4096);
  if (!bytes) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined; // the server writes it atomically, so this is someone else's; wait for ours
  }
  const result = v.safeParse(ReadySchema, parsed);
  return result.success && result.output.pid === pid ? result.output : undefined;
}

const PropsSchema = v.object({
  gpu: v.optional(v.union([v.literal(false), v.pipe(v.string(), v.maxLength(32))])),
  gpu_layers: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(100_000))),
});

/**
 * Where the loaded server runs its model, from its /props (read bounded, checked by schema: whatever listens on
 * that port answers). Undefined when the answer is not the server's.
 */
export async function readGpuFacts(port: number): Promise<{ backend: string | false; layers: number } | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/props`, { signal: AbortSignal.timeout(3000) });
    const text = await res.text();
    if (!res.ok || text.length > 64 * 1024) return undefined;
    const parsed = v.safeParse(PropsSchema, JSON.parse(text));
    return parsed.success ? { backend: parsed.output.gpu ?? false, layers: parsed.output.gpu_layers ?? 0 } : undefined;
  } catch {
    return undefined;
  }
}
