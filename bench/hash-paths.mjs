// Measures the two BLAKE3 paths on the same bytes, alternating (the machine is shared, so a single pass says
// little): (1) chunk + whole-file hashing on one core, native (@napi-rs/blake-hash) against hash-wasm, from memory;
// (2) `aim push --rehash` of the same file into a repository that already holds it (read, cut, hash, look up: no
// chunk is written), native against AIM_HASH=wasm. Usage: node bench/hash-paths.mjs [--size MiB] [--rounds N]
// [--cli path/to/aim.js]
import { execFileSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createBLAKE3 } from 'hash-wasm';

const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const sizeMiB = Number(option('--size', '1024'));
const rounds = Number(option('--rounds', '3'));
const cli = resolve(option('--cli', 'dist/bundle/aim.js'));
const CHUNK = 1024 * 1024;

const work = mkdtempSync(join(tmpdir(), 'aim-hash-paths-'));
const source = join(work, 'model');
mkdirSync(source);
const file = join(source, 'weights.bin');
const data = Buffer.allocUnsafe(sizeMiB * CHUNK);
randomFillSync(data);
const fd = openSync(file, 'w');
writeSync(fd, data);
closeSync(fd);

const native = createRequire(import.meta.url)('@napi-rs/blake-hash');
function hashNative() {
  const whole = new native.Blake3Hasher();
  for (let at = 0; at < data.length; at += CHUNK) {
    const chunk = data.subarray(at, at + CHUNK);
    native.blake3(chunk);
    whole.update(chunk);
  }
  return whole.digest('hex');
}
const wasmChunk = await createBLAKE3();
const wasmFile = await createBLAKE3();
function hashWasm() {
  wasmFile.init();
  for (let at = 0; at < data.length; at += CHUNK) {
    const chunk = data.subarray(at, at + CHUNK);
    wasmChunk.init();
    wasmChunk.update(chunk);
    wasmChunk.digest('hex');
    wasmFile.update(chunk);
  }
  return wasmFile.digest('hex');
}

const config = join(work, 'model_repos.yaml');
writeFileSync(config, `repositories:\n  r:\n    type: local\n    path: ${join(work, 'store')}\n`);
mkdirSync(join(work, 'store'));
const env = (extra) => ({ ...process.env, AIM_CONFIG: config, AIM_HOME: join(work, 'home'), ...extra });
const push = (extra, tag) => {
  const started = performance.now();
  const out = execFileSync(process.execPath, [cli, 'push', `r/m:${tag}`, source, '--rehash', '--json'], { env: env(extra), cwd: work });
  const wall = (performance.now() - started) / 1000;
  return { wall, digest: JSON.parse(out.toString()).digest };
};

const mbps = (seconds) => (data.length / 1e6 / seconds).toFixed(0);
const results = { native: { memory: [], push: [] }, wasm: { memory: [], push: [] } };
push({}, 'seed'); // the repository then holds every chunk: the measured pushes write none
for (let round = 1; round <= rounds; round++) {
  const order = round % 2 === 1 ? ['native', 'wasm'] : ['wasm', 'native'];
  for (const path of order) {
    const started = performance.now();
    const digest = path === 'native' ? hashNative() : hashWasm();
    results[path].memory.push((performance.now() - started) / 1000);
    const pushed = push(path === 'wasm' ? { AIM_HASH: 'wasm' } : {}, `${path}${round}`);
    results[path].push.push(pushed.wall);
    console.log(`round ${round} ${path}: one core ${mbps(results[path].memory.at(-1))} MB/s (${digest.slice(0, 12)}), push --rehash ${pushed.wall.toFixed(2)} s = ${mbps(pushed.wall)} MB/s`);
  }
}
for (const path of ['native', 'wasm']) {
  const { memory, push: pushes } = results[path];
  console.log(`${path}: one core ${memory.map(mbps).join(' / ')} MB/s; push --rehash ${pushes.map((s) => s.toFixed(2)).join(' / ')} s (${pushes.map(mbps).join(' / ')} MB/s)`);
}
rmSync(work, { recursive: true, force: true });
