import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// What a command loads before it does anything is start-up time for every run of it: Node 20 resolves, reads and
// compiles each module one by one. The large packages are imported lazily, by the code that needs them; a static
// import anywhere on a command's path loads them for every run (the GGUF package alone is 70-odd files). Checked on
// tsc's output (dist/), which is what the bundle is made from: type-only imports are gone there.

const dist = fileURLToPath(new URL('../dist/', import.meta.url));

/** Large packages, by the commands that may load them as they start. */
const HEAVY: Record<string, string[]> = {
  '@huggingface/gguf': ['exec.js', 'inspect.js', 'mcp.js', 'run.js'],
  '@huggingface/hub': [],
  '@aws-sdk/client-s3': [],
  'node-llama-cpp': [],
  '@modelcontextprotocol/sdk': ['mcp.js'],
};

const STATIC_IMPORT = /^\s*(?:import|export)\s(?:[^;'"]*?\sfrom\s)?['"]([^'"]+)['"]/gm;

const packageOf = (specifier: string): string => specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/');

/** Packages the module at `entry` loads through static imports, its own and those of every module it reaches. */
function staticPackages(entry: string): Set<string> {
  return staticImports(entry).packages;
}

/** The modules (paths) and packages that the module at `entry` reaches through static imports. */
function staticImports(entry: string): { modules: Set<string>; packages: Set<string> } {
  const seen = new Set([entry]);
  const queue = [entry];
  const packages = new Set<string>();
  for (let file = queue.shift(); file; file = queue.shift()) {
    for (const [, specifier] of readFileSync(file, 'utf8').matchAll(STATIC_IMPORT)) {
      if (specifier!.startsWith('node:')) continue;
      if (!specifier!.startsWith('.')) {
        packages.add(packageOf(specifier!));
        continue;
      }
      const next = resolve(dirname(file), specifier!);
      if (seen.has(next)) continue;
      seen.add(next);
      queue.push(next);
    }
  }
  return { modules: seen, packages };
}

describe('start-up imports', () => {
  const commands = readdirSync(join(dist, 'commands'), { recursive: true, encoding: 'utf8' }).filter((name) => name.endsWith('.js'));

  it('no command loads a large package it does not need as it starts', () => {
    expect(commands.length).toBeGreaterThan(40); // it really read the compiled commands
    const offenders: string[] = [];
    for (const name of commands) {
      const packages = staticPackages(join(dist, 'commands', name));
      for (const [heavy, allowed] of Object.entries(HEAVY)) if (packages.has(heavy) && !allowed.includes(name)) offenders.push(`commands/${name} -> ${heavy}`);
    }
    expect(offenders).toEqual([]);
  });

  it('a push loads neither the pull path nor the embedded engine as it starts', () => {
    // Push shares its options file with pull (transfer-options.ts); pull, the trust policy and the engine's module
    // (with net and child_process) load only when a pull, --sign or --quant asks for them.
    const reached = [...staticImports(join(dist, 'commands', 'model', 'push.js')).modules].map((path) => path.slice(dist.length));
    const unwanted = ['core/transfer/pull.js', 'serving/embedded/llama.js', 'core/serve/served-context.js'];
    expect(reached.length).toBeGreaterThan(50); // it really followed the push's imports
    expect(reached.filter((path) => unwanted.includes(path))).toEqual([]);
  });

  it('the scan follows static imports through modules, and not dynamic ones', () => {
    const reached = staticPackages(join(dist, 'commands', 'run.js'));
    expect(reached.has('@huggingface/gguf')).toBe(true); // run.js reaches it only through other modules
    expect(readFileSync(join(dist, 'commands', 'run.js'), 'utf8')).not.toContain("from '@huggingface/gguf'");
    const pushAnnotations = join(dist, 'core', 'transfer', 'push-annotations.js');
    expect(readFileSync(pushAnnotations, 'utf8')).toContain("import('../format/gguf.js')");
    expect(staticPackages(pushAnnotations).has('@huggingface/gguf')).toBe(false);
  });
});
