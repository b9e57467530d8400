// Bundles the compiled CLI (dist/cli.js, tsc's output) into one CommonJS script, dist/bundle/aim.cjs, and makes V8's
// code cache of it (aim.cjs.cache) by running a small push with it. dist/bundle/aim.js starts it through
// load-bundle.mjs (see there for why a script and a cache). Why a bundle: Node 20 resolves, reads, compiles and links
// each module one by one, each costing a few tenths of a millisecond before any of its code runs (yaml alone is 72
// CommonJS files, fast-glob and its helpers 75); one script, compiled from the cache, costs neither.
//
// Commands and other modules imported with import() are still evaluated only when imported (esbuild wraps each in
// a function); their code is in the script, compiled lazily or taken from the cache. Kept out of the bundle: packages
// that load only in the commands that need them (the AWS SDK, node-llama-cpp), native addons, and the worker and
// server scripts, which stay tsc's files and are found beside the module that starts them. Because bundled code no
// longer sits at its compiled path, each `import.meta.url` is rewritten to that compiled path, so
// `new URL('./cdc-worker.js', import.meta.url)` still names dist/core/chunking/cdc-worker.js.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = resolve(root, 'dist');
const outdir = resolve(dist, 'bundle');
const script = resolve(outdir, 'aim.cjs');

// Small pure-JS packages the fast commands load: bundled. Everything else stays an ordinary import.
const bundled = new Set(['clipanion', 'typanion', 'yaml', 'cosmiconfig', 'fast-glob', 'picomatch', 'env-paths', 'valibot']);

function packageName(specifier) {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** import() of anything but a bundled relative module: load-bundle.mjs passes the script a function that does it. */
const IMPORT_OF_PACKAGE = /\bimport\((?!\s*['"]\.)/g;

const keepCompiledPaths = {
  name: 'keep-compiled-paths',
  setup(pluginBuild) {
    pluginBuild.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith('node:')) return { path: args.path, external: true };
      // cosmiconfig imports TypeScript only for .ts config files, which aim's YAML-only loaders never read: it stays
      // out (10 MB).
      if (packageName(args.path) === 'typescript') return { path: args.path, external: true };
      // Bundled packages' own dependencies are bundled too; only the top-level choice is made here.
      if (!args.importer.startsWith(dist + '/')) return undefined;
      return bundled.has(packageName(args.path)) ? undefined : { path: args.path, external: true };
    });
    pluginBuild.onLoad({ filter: /\.js$/ }, async (args) => {
      let source = await readFile(args.path, 'utf8');
      if (source.includes('import(')) source = source.replace(IMPORT_OF_PACKAGE, '__aimImport(');
      if (args.path.startsWith(dist + '/') && source.includes('import.meta.url')) {
        const compiledPath = JSON.stringify(relative(outdir, args.path));
        source = source.replaceAll('import.meta.url', `require('node:url').pathToFileURL(require('node:path').join(__dirname, ${compiledPath})).href`);
      }
      return { contents: source, loader: 'js' };
    });
  },
};

/** A script that would call import() or read import.meta would fail only when that line runs: refuse it now. */
function checkNoModuleSyntaxLeft(text) {
  const left = [...text.matchAll(/\bimport\(|\bimport\.meta\b/g)].map((match) => JSON.stringify(text.slice(match.index - 60, match.index + 30)));
  if (left.length > 0) throw new Error(`dist/bundle/aim.cjs still uses import() or import.meta, which a node:vm script cannot:\n${left.join('\n')}`);
}

/**
 * Pushes a small folder with the new bundle, then pushes it again unchanged with the run that saves the code cache
 * as it exits: by then V8 has compiled the functions that start-up and a push need, so they come from the cache
 * too, not only the top level. The unchanged re-push is the run whose time is mostly start-up.
 */
async function warmUp() {
  const work = await mkdtemp(join(tmpdir(), 'aim-bundle-'));
  try {
    await mkdir(join(work, 'model'));
    await mkdir(join(work, 'repo'));
    await writeFile(join(work, 'model', 'config.json'), '{"warm": true}\n');
    const env = { ...process.env, AIM_CONFIG: join(work, 'model_repos.yaml'), AIM_HOME: join(work, 'home') };
    delete env.NODE_OPTIONS; // flags there would be in the cache's flag hash, and most runs of aim have none
    await writeFile(env.AIM_CONFIG, `repositories:\n  warm:\n    type: local\n    path: ${JSON.stringify(join(work, 'repo'))}\n`);
    for (const [tag, writeCache] of [['v1', false], ['v2', true]]) {
      const load = `import(${JSON.stringify(resolve(outdir, 'load-bundle.mjs'))}).then((m) => m.loadBundle({ writeCache: ${writeCache} }))`;
      const args = ['--input-type=module', '-e', load, 'aim', 'model', 'push', 'warm', 'm', join(work, 'model'), '--tag', tag, '--quiet'];
      const run = spawnSync(process.execPath, args, { env, encoding: 'utf8' });
      if (run.status !== 0) throw new Error(`the warm-up push with the new bundle failed (exit ${run.status}): ${run.stderr}`);
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

// Clear the last build's files so nothing stale sits beside the new script (a cache made from another one).
await rm(outdir, { recursive: true, force: true });
await build({
  entryPoints: [resolve(dist, 'cli.js')],
  outfile: script,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
  // ES modules are strict; so must their code be in one CommonJS script.
  banner: { js: '"use strict";' },
  plugins: [keepCompiledPaths],
});
checkNoModuleSyntaxLeft(await readFile(script, 'utf8'));
await copyFile(resolve(root, 'scripts', 'load-bundle.mjs'), resolve(outdir, 'load-bundle.mjs'));
await writeFile(resolve(outdir, 'aim.js'), "import { loadBundle } from './load-bundle.mjs';\n\nloadBundle();\n");
await warmUp();
