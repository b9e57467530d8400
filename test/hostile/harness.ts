// The repository-as-attacker harness: runs the real CLI with a time and a memory limit and checks effects, not
// wording: nothing outside the places a command may write changed, the exit is a plain user error, memory stayed
// bounded. Each test file under test/hostile/ is a table of cases built on these helpers.
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { expectUserError, type CliResult, type RunOptions, type Workspace } from '../helpers/cli.js';

const RSS_PRELOAD = fileURLToPath(new URL('./rss-preload.mjs', import.meta.url));

export interface BoundedResult extends CliResult {
  /** Peak resident memory of the CLI process in MiB (undefined when it was killed before it could say). */
  peakRssMiB?: number;
}

export interface Bounds {
  /** The command is killed after this long and the case fails: aim must never hang. Default 30 s. */
  timeoutMs?: number;
  /** Peak RSS the command may reach. Default 400 MiB (an ordinary command uses 60-230). */
  maxRssMiB?: number;
}

/** Runs `aim ...args` in the workspace with the bounds; fails the test if it hung or grew past the memory bound. */
export async function runBounded(ws: Workspace, args: string[], bounds: Bounds = {}, options: RunOptions = {}): Promise<BoundedResult> {
  const rssFile = ws.path(`.rss-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`);
  const timeoutMs = bounds.timeoutMs ?? 30_000;
  const started = Date.now();
  const result = await ws.run(args, {
    ...options,
    timeoutMs,
    env: { ...options.env, NODE_OPTIONS: `--import=${RSS_PRELOAD}`, AIM_TEST_RSS_FILE: rssFile },
  });
  expect(result.signal, `aim ${args.join(' ')} hung for ${Date.now() - started} ms and was killed\n${result.stderr}`).toBeNull();
  const text = await readFile(rssFile, 'utf8').catch(() => undefined);
  const peakRssMiB = text === undefined ? undefined : Number(text) / 1024;
  if (peakRssMiB !== undefined) expect(peakRssMiB, `aim ${args.join(' ')} peak RSS`).toBeLessThan(bounds.maxRssMiB ?? 400);
  return { ...result, peakRssMiB };
}

/** Runs the command and expects a plain user error (one line, a hint, no stack, not exit 70), within the bounds. */
export async function expectRefused(ws: Workspace, args: string[], message?: RegExp, bounds?: Bounds, options?: RunOptions): Promise<string> {
  const result = await runBounded(ws, args, bounds, options);
  return expectUserError(result, message);
}

type Entry = { type: 'file'; size: number; content: string } | { type: 'dir' } | { type: 'link'; target: string } | { type: 'other' };

/** Everything under `root` (links not followed), except the relative paths `skip` names and what lies below them. */
export async function snapshot(root: string, skip: string[] = []): Promise<Map<string, Entry>> {
  const entries = new Map<string, Entry>();
  const visit = async (dir: string): Promise<void> => {
    for (const name of await readdir(dir)) {
      const path = join(dir, name);
      const rel = relative(root, path);
      if (skip.some((s) => rel === s || rel.startsWith(`${s}/`)) || name.startsWith('.rss-')) continue;
      const stat = await lstat(path);
      if (stat.isSymbolicLink()) entries.set(rel, { type: 'link', target: await readlink(path) });
      else if (stat.isDirectory()) {
        entries.set(rel, { type: 'dir' });
        await visit(path);
      } else if (stat.isFile()) entries.set(rel, { type: 'file', size: stat.size, content: stat.size <= 1 << 20 ? (await readFile(path)).toString('base64') : `mtime:${stat.mtimeMs}` });
      else entries.set(rel, { type: 'other' });
    }
  };
  await visit(root);
  return entries;
}

/** Asserts that `root` (outside the skipped paths) is exactly as `before`: nothing written, deleted or created. */
export async function expectUnchanged(root: string, before: Map<string, Entry>, skip: string[] = []): Promise<void> {
  const after = await snapshot(root, skip);
  expect(Object.fromEntries(after)).toEqual(Object.fromEntries(before));
}
