// Bundles the compiled CLI (dist/cli.js, tsc's output) into dist/bundle/ with esbuild. Why: Node 20 resolves and
// links each of the ~270 files a `model push` loads one by one (yaml alone is 72 CommonJS files, fast-glob and its
// helpers 75), which was most of an unchanged re-push's wall time. One file per lazily loaded command starts faster.
//
// Kept out of the bundle: packages that load only in the commands that need them (the AWS SDK, node-llama-cpp),
// native addons, and the worker and server scripts, which stay tsc's files and are found beside the module that
// starts them. Because bundled code no longer sits at its compiled path, each `import.meta.url` is rewritten to
// that compiled path, so `new URL('./cdc-worker.js', import.meta.url)` still names dist/core/chunking/cdc-worker.js.
import { build } from 'esbuild';
import { readFile, rm } from 'node:fs/promises';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = resolve(root, 'dist');
const outdir = resolve(dist, 'bundle');

// Small pure-JS packages the fast commands load: bundled. Everything else stays an ordinary import.
const bundled = new Set(['clipanion', 'typanion', 'yaml', 'cosmiconfig', 'fast-glob', 'picomatch', 'env-paths', 'valibot']);

function packageName(specifier) {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

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
      if (!args.path.startsWith(dist + '/')) return undefined;
      const source = await readFile(args.path, 'utf8');
      if (!source.includes('import.meta.url')) return { contents: source, loader: 'js' };
      const compiledPath = JSON.stringify(relative(outdir, args.path));
      return { contents: source.replaceAll('import.meta.url', `new URL(${compiledPath}, import.meta.url).href`), loader: 'js' };
    });
  },
};

// Chunk names carry content hashes: clear the last build's so they do not pile up.
await rm(outdir, { recursive: true, force: true });
await build({
  entryPoints: { aim: resolve(dist, 'cli.js') },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  chunkNames: 'chunk-[hash]',
  logLevel: 'warning',
  // Bundled CommonJS packages call require() for Node's own modules; ESM output has none unless given one.
  banner: { js: "import { createRequire as __aimCreateRequire } from 'node:module'; const require = __aimCreateRequire(import.meta.url);" },
  plugins: [keepCompiledPaths],
});
