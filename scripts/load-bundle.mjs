// Starts the bundled CLI (dist/bundle/aim.cjs) from V8's code cache of it (aim.cjs.cache), made at build time by
// scripts/bundle.mjs. Copied to dist/bundle/ by the build; dist/bundle/aim.js calls it.
//
// Why: Node 20 has no compile cache for modules (module.enableCompileCache is 22.1+), and compiling the bundle was
// the largest part of aim's own start-up: an unchanged re-push spent more time compiling and linking modules than
// working. A script compiled by node:vm can take a code cache; the bundle is therefore one CommonJS script, run here
// the way Node runs a CommonJS module. What it wins: an unchanged re-push of 1 GiB about a fifth of its wall time
// and CPU, `aim repo list` a third of its CPU; `aim --version` costs ~7 ms more (interleaved series in
// docs/benchmarks.md, "Start-up: ...").
//
// The cache is part of the build, beside the script it was made from; nothing at run time writes it. V8 checks it
// against its own version, its flags, the script's length and (with the flag below) a checksum, and ignores it on
// any mismatch (a newer Node, a flag in NODE_OPTIONS, a damaged file): the script is then compiled as usual and
// only the saving is lost.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { Script } from 'node:vm';

// Let the heap grow to four times what a full collection leaves before the next one (the top of V8's own range;
// V8 still shrinks the step near the heap limit). A pull reads its bytes through Node's sockets, a fresh 64 KiB
// buffer per read, and each request leaves a little in the old generation: with V8's default growth full
// collections become the largest part of the client's CPU (docs/benchmarks.md has the figures). The cost is memory
// in proportion to what is live: little for aim's usual heap. Set before the script is compiled: V8 accepts a code
// cache only under the flags it was made with.
setFlagsFromString('--heap-growing-percent=300');
// V8 in a release build trusts a code cache's bytes once its header matches: a cache damaged on the disk would crash
// the process instead of being ignored. With this flag the cache carries a checksum, checked as it is read.
setFlagsFromString('--verify-snapshot-checksum');

const SCRIPT = fileURLToPath(new URL('./aim.cjs', import.meta.url));
const CACHE = `${SCRIPT}.cache`;

/** The cache beside the script, or undefined when there is none (a build that could not make it). */
function readCache() {
  try {
    return readFileSync(CACHE);
  } catch {
    return undefined;
  }
}

/** The bundle's wrapper, as Node's for a CommonJS module, plus `__aimImport`: see loadBundle. */
const wrap = (source) => `(function (exports, require, module, __filename, __dirname, __aimImport) {${source}\n})`;

/**
 * The bundle compiled, from the code cache unless `withCache` is false; `cachedDataRejected` says whether V8 took
 * the cache (undefined: none was given).
 */
export function compileBundle({ withCache = true } = {}) {
  const cachedData = withCache ? readCache() : undefined;
  return new Script(wrap(readFileSync(SCRIPT, 'utf8')), { filename: SCRIPT, cachedData });
}

/**
 * Runs the bundle as Node runs a CommonJS module, with `__aimImport` for the bundle's import() of packages left
 * out of it: a script compiled by node:vm cannot call import() itself on Node 20 without a flag.
 * `writeCache`: the build's warm-up run, which saves the code cache at exit, when the functions that start-up and
 * a push ran have been compiled and so go into the cache too.
 */
export function loadBundle({ writeCache = false } = {}) {
  const script = compileBundle({ withCache: !writeCache });
  if (writeCache) process.once('exit', () => writeFileSync(CACHE, script.createCachedData()));
  const module = { exports: {} };
  const run = script.runInThisContext();
  run.call(module.exports, module.exports, createRequire(SCRIPT), module, SCRIPT, dirname(SCRIPT), (specifier) => import(specifier));
}
