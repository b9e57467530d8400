import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { writeTinyGgufInto } from '../fixtures/tiny-gguf.js';
import { createWorkspace } from './helpers/cli.js';

// The built CLI is one script started from V8's code cache of it (scripts/bundle.mjs, scripts/load-bundle.mjs).
// These run the build's own files in child processes without NODE_OPTIONS, as a user's shell runs aim.

const dist = fileURLToPath(new URL('../dist/', import.meta.url));
const cleanEnv = (): NodeJS.ProcessEnv => {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  return env;
};

/** Whether V8 took the code cache beside the bundle in `folder` (false: it did; undefined: there was none). */
function cacheRejected(folder: string): boolean | undefined {
  const loader = join(folder, 'load-bundle.mjs');
  const probe = `const m = await import(${JSON.stringify(loader)}); console.log(JSON.stringify({ rejected: m.compileBundle().cachedDataRejected ?? null }));`;
  const output = execFileSync(process.execPath, ['--input-type=module', '-e', probe], { env: cleanEnv(), encoding: 'utf8' });
  return (JSON.parse(output) as { rejected: boolean | null }).rejected ?? undefined;
}

describe('the bundled CLI', () => {
  it('starts from a code cache that V8 accepts', () => {
    // Fails when the build made no cache, or made it under other V8 flags than the loader sets before compiling.
    expect(cacheRejected(join(dist, 'bundle'))).toBe(false);
  });

  it('ignores a damaged code cache and runs as usual', () => {
    // A sibling of dist/bundle, so the bundle's paths to dist/core and package.json hold.
    const copy = mkdtempSync(join(dist, 'bundle-damaged-'));
    try {
      cpSync(join(dist, 'bundle'), copy, { recursive: true });
      const cache = readFileSync(join(copy, 'aim.cjs.cache'));
      cache[cache.length >> 1]! ^= 1;
      writeFileSync(join(copy, 'aim.cjs.cache'), cache);
      expect(cacheRejected(copy)).toBe(true);
      const run = spawnSync(process.execPath, [join(copy, 'aim.js'), '--version'], { env: cleanEnv(), encoding: 'utf8' });
      expect({ status: run.status, signal: run.signal, stderr: run.stderr }).toEqual({ status: 0, signal: null, stderr: '' });
      expect(run.stdout.trim()).toBe(JSON.parse(readFileSync(join(dist, '..', 'package.json'), 'utf8')).version);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });

  it('runs a command that imports a package left out of the bundle', async () => {
    // A push of a GGUF reads its quantization label through @huggingface/gguf, imported with import(): the loader
    // passes the script a function for that, since a node:vm script cannot call import() on Node 20.
    const workspace = await createWorkspace((dir) => ({ local: { type: 'local', path: join(dir, 'repo') } }));
    try {
      await mkdir(workspace.path('model'));
      await writeTinyGgufInto(workspace.path('model'), { quant: 'q8_0' });
      const pushed = await workspace.json<{ files: number }>(['model', 'push', 'local', 'tiny', workspace.path('model'), '--tag', 'v1']);
      expect(pushed.files).toBe(1);
      const listed = await workspace.json<{ models: Array<{ model: string; quants?: string[] }> }>(['list']);
      expect(JSON.stringify(listed)).toMatch(/q8_0/i);
    } finally {
      await workspace.cleanup();
    }
  });
});
