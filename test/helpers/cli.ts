// Running the BUILT CLI (dist/bundle/aim.js, what bin/aim.js loads) as a child process in a temporary workspace, the way a user would: its own
// model_repos.yaml (AIM_CONFIG) and AIM_HOME, assertions on `--json` output and on the one-line errors. Nothing
// here knows about a backend: a workspace is given repository entries (local folders, S3 prefixes) as data.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { stringify } from 'yaml';

export const CLI_PATH = fileURLToPath(new URL('../../dist/bundle/aim.js', import.meta.url));

/** One repository as written in model_repos.yaml, e.g. {type: 'local', path} or {type: 's3', path, region, endpoint}. */
export interface RepoEntry {
  type: 'local' | 's3';
  path: string;
  region?: string;
  endpoint?: string;
  [key: string]: unknown;
}

export function reposYaml(repositories: Record<string, RepoEntry>, extra: Record<string, unknown> = {}): string {
  return stringify({ repositories, ...extra });
}

/** Writes a model_repos.yaml listing `repositories` (creating its folder). */
export async function writeReposConfig(file: string, repositories: Record<string, RepoEntry>, extra: Record<string, unknown> = {}): Promise<void> {
  await mkdir(join(file, '..'), { recursive: true });
  await writeFile(file, reposYaml(repositories, extra));
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as the one JSON document `--json` prints; fails the test with the output if it is not one. */
  json<T = any>(): T;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Kill the child (SIGKILL) after this long; default 120 s so a hung CLI fails the test instead of vitest. */
  timeoutMs?: number;
}

export interface RunningCli {
  child: ChildProcess;
  /** stderr so far (progress lines), for tests that act midway. */
  stderrSoFar(): string;
  /** stdout so far, for tests that act once a command has said something. */
  stdoutSoFar(): string;
  result: Promise<CliResult>;
}

function toResult(code: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string, args: string[]): CliResult {
  return {
    code,
    signal,
    stdout,
    stderr,
    json() {
      try {
        return JSON.parse(stdout);
      } catch {
        throw new Error(`aim ${args.join(' ')} (exit ${code}) did not print JSON.\nstdout: ${stdout}\nstderr: ${stderr}`);
      }
    },
  };
}

/** Starts `node dist/bundle/aim.js ...args`; the caller may kill it midway. */
export function startCli(args: string[], options: RunOptions = {}): RunningCli {
  const child = spawn(process.execPath, [CLI_PATH, ...args], {
    cwd: options.cwd,
    env: { ...process.env, NO_COLOR: '1', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
  const result = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve(toResult(code, signal, stdout, stderr, args));
    });
  });
  return { child, stderrSoFar: () => stderr, stdoutSoFar: () => stdout, result };
}

/**
 * Polls `ready` (every 10 ms) until it is true, then sends `signal` to the child and returns how it ended; fails,
 * showing its progress, if the command finished first. Tests wait for an event, never for a fixed time.
 */
export async function signalWhen(running: RunningCli, ready: () => Promise<boolean>, signal: NodeJS.Signals = 'SIGKILL'): Promise<CliResult> {
  let exited = false;
  void running.result.then(() => (exited = true));
  try {
    while (!exited && !(await ready())) await new Promise((resolve) => setTimeout(resolve, 10));
  } catch (error) {
    running.child.kill('SIGKILL'); // a failing check must not leave the command running
    throw error;
  }
  expect(exited, `the command finished before it could be stopped:\n${running.stderrSoFar()}`).toBe(false);
  running.child.kill(signal);
  return running.result;
}

/** SIGKILLs the command once `ready` is true (as `signalWhen`), and checks it died of it. */
export async function killWhen(running: RunningCli, ready: () => Promise<boolean>): Promise<void> {
  expect((await signalWhen(running, ready)).signal).toBe('SIGKILL');
}

export function runCli(args: string[], options: RunOptions = {}): Promise<CliResult> {
  return startCli(args, options).result;
}

export interface Workspace {
  /** The temporary folder everything lives in. */
  dir: string;
  /** model_repos.yaml of this workspace (AIM_CONFIG). */
  config: string;
  /** AIM_HOME of this workspace. */
  home: string;
  env: NodeJS.ProcessEnv;
  path(...parts: string[]): string;
  /** Runs the CLI with this workspace's AIM_CONFIG and AIM_HOME, in its folder. */
  run(args: string[], options?: RunOptions): Promise<CliResult>;
  /** Runs with `--json` appended and expects exit 0; returns the parsed output. */
  json<T = any>(args: string[], options?: RunOptions): Promise<T>;
  start(args: string[], options?: RunOptions): RunningCli;
  cleanup(): Promise<void>;
}

/**
 * A temporary folder with AIM_HOME inside and a model_repos.yaml naming `repositories` (none: no file is written,
 * AIM_CONFIG still points at where it would be; a function: called with the folder, for paths inside it). Local
 * repositories' folders are created. `env` adds variables, e.g. S3 credentials.
 */
export async function createWorkspace(
  repositories?: Record<string, RepoEntry> | ((dir: string) => Record<string, RepoEntry>),
  env: NodeJS.ProcessEnv = {},
): Promise<Workspace> {
  const dir = await mkdtemp(join(tmpdir(), 'aim-e2e-'));
  const config = join(dir, 'model_repos.yaml');
  const home = join(dir, 'aim-home');
  if (repositories) {
    const entries = typeof repositories === 'function' ? repositories(dir) : repositories;
    await writeReposConfig(config, entries);
    // Like `aim repo create`, a local repository's folder exists from the start.
    for (const entry of Object.values(entries)) if (entry.type === 'local') await mkdir(entry.path, { recursive: true });
  }
  const baseEnv: NodeJS.ProcessEnv = { AIM_CONFIG: config, AIM_HOME: home, ...env };
  const withEnv = (options: RunOptions = {}): RunOptions => ({ cwd: dir, ...options, env: { ...baseEnv, ...options.env } });
  const workspace: Workspace = {
    dir,
    config,
    home,
    env: baseEnv,
    path: (...parts) => join(dir, ...parts),
    run: (args, options) => runCli(args, withEnv(options)),
    start: (args, options) => startCli(args, withEnv(options)),
    async json(args, options) {
      const result = await runCli([...args, '--json'], withEnv(options));
      if (result.code !== 0) throw new Error(`aim ${args.join(' ')} failed (exit ${result.code}):\n${result.stderr}`);
      return result.json();
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
  return workspace;
}

/**
 * A user-caused error is rendered as one plain line `aim: error: ...` then `  hint: ...`, a non-zero exit, and no
 * stack trace. Returns the message line for further assertions.
 */
export function expectUserError(result: CliResult, message?: RegExp): string {
  expect(result.code, `expected a failure, got exit 0 with stdout ${result.stdout}`).not.toBe(0);
  expect(result.code).not.toBe(70); // 70 is the internal-error exit code
  const lines = result.stderr.trimEnd().split('\n');
  const errorLines = lines.filter((line) => line.startsWith('aim: error: '));
  expect(errorLines, `stderr: ${result.stderr}`).toHaveLength(1);
  const index = lines.indexOf(errorLines[0]!);
  expect(lines[index + 1], `stderr: ${result.stderr}`).toMatch(/^ {2}hint: \S/);
  expect(result.stderr).not.toMatch(/^\s+at /m);
  expect(result.stderr).not.toMatch(/internal error/);
  if (message) expect(errorLines[0]).toMatch(message);
  return errorLines[0]!;
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Relative `/`-separated paths of the regular files under `root`, sorted; `.aim/` (pull bookkeeping) left out. */
export async function listFiles(root: string, options: { includeAim?: boolean } = {}): Promise<string[]> {
  // DEST/.aim is not entered unless asked for: a pull's trash is deleted there by a detached process that may still
  // be running, and a walk through it would meet files vanishing under it.
  const top = await readdir(root, { withFileTypes: true });
  const within = await Promise.all(
    top
      .filter((entry) => entry.isDirectory() && (options.includeAim || entry.name !== '.aim'))
      .map((entry) => readdir(join(root, entry.name), { recursive: true, withFileTypes: true })),
  );
  return [...top, ...within.flat()]
    .filter((entry) => entry.isFile())
    .map((entry) => relative(root, join(entry.parentPath, entry.name)).split(sep).join('/'))
    .sort();
}

/** Path -> sha256 of every file under `root` (without `.aim/`), to compare a pulled folder with its source. */
export async function treeDigests(root: string): Promise<Record<string, string>> {
  const digests: Record<string, string> = {};
  for (const path of await listFiles(root)) digests[path] = await sha256File(join(root, ...path.split('/')));
  return digests;
}

/** Asserts that `actual` holds exactly the files of `expected`, byte for byte (pull bookkeeping aside). */
export async function expectSameTree(actual: string, expected: string): Promise<void> {
  expect(await treeDigests(actual)).toEqual(await treeDigests(expected));
}

/** Writes `files` (`/`-separated path -> text) under `root`, making the folders they lie in. */
export async function writeTree(root: string, files: Record<string, string>): Promise<void> {
  for (const [path, text] of Object.entries(files)) {
    const target = join(root, ...path.split('/'));
    await mkdir(join(target, '..'), { recursive: true });
    await writeFile(target, text);
  }
}

/** Writes `files` (path -> text) into a folder of the workspace named after `ref`, pushes it with --force, gives the digest. */
export async function pushFiles(ws: Workspace, ref: string, files: Record<string, string>, ...flags: string[]): Promise<string> {
  const dir = ws.path('models', ref.replace(/\W+/g, '-'));
  await mkdir(dir, { recursive: true });
  for (const [path, text] of Object.entries(files)) await writeFile(join(dir, path), text);
  return (await ws.json(['push', ref, dir, '--force', ...flags])).digest as string;
}
