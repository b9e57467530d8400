// A/B of two builds of aim on the same data, interleaved in one run, with cp beside them: on a machine shared with
// other work, absolute times swing 2-3x between minutes, so only runs that alternate within one series compare.
//
//   node bench/ab.mjs --base /work/wt/perf-base --new . --data /tmp/big [--rounds 5] [--only push,pull] [--work DIR] [--warm]
//
// Each round, in turn for `base`, `new` (their order swapped every round) and cp: a push of DATA (a file or folder)
// into a fresh local folder repository, then a pull of it into a fresh folder, each followed by `sync` inside the
// timing; cp copies DATA into a fresh folder, then `sync`. Before every push and every cp, DATA's pages are dropped
// from the page cache (posix_fadvise DONTNEED per file), so each reads from the disk; with --warm they are read into
// it instead (a model just downloaded or converted), so each reads from memory. Reports per row the median
// wall time, user and system CPU and peak RSS (GNU time), the new/base ratio, each against cp, and the 1-minute load
// at the start and the end. Needs /usr/bin/time, and each build's `npm run build` done.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { median, parseAbOptions } from './lib.mjs';

function parse(argv) {
  return parseAbOptions(argv, { base: undefined, new: resolve('.'), data: undefined, rounds: 5, only: ['push', 'pull'], work: join(tmpdir(), 'aim-ab'), warm: false }, { script: 'ab.mjs' });
}

function filesUnder(path) {
  if (statSync(path).isFile()) return [path];
  return readdirSync(path, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath ?? entry.path, entry.name));
}

/**
 * Drops the pages of every file of `path` from the page cache, as `dd iflag=nocache count=0` does for one file (the
 * benchmark's cold rows): posix_fadvise(DONTNEED), through python3 so that thousands of files cost one process.
 */
function dropFromCache(path) {
  const script = 'import os,sys\nfor f in sys.stdin.read().split("\\0")[:-1]:\n fd=os.open(f,os.O_RDONLY); os.posix_fadvise(fd,0,0,os.POSIX_FADV_DONTNEED); os.close(fd)';
  const input = filesUnder(path).map((file) => `${file}\0`).join('');
  const result = spawnSync('python3', ['-c', script], { input });
  if (result.status !== 0) throw new Error(`dropping ${path} from the page cache failed: ${result.stderr}`);
}

/** DATA as each push and cp finds it: read into the page cache (--warm) or dropped from it. */
function prepareCache(options) {
  if (!options.warm) return dropFromCache(options.data);
  for (const file of filesUnder(options.data)) spawnSync('cat', [file], { stdio: ['ignore', 'ignore', 'inherit'] });
}

/** Runs `command` in sh under GNU time, `sync` included; wall, user, system seconds and peak RSS (KiB). */
function timedShell(command, env) {
  spawnSync('sync');
  const out = join(tmpdir(), `aim-ab-time-${process.pid}`);
  const result = spawnSync('/usr/bin/time', ['-f', '%e %U %S %M', '-o', out, 'sh', '-c', `${command} && sync`], { env, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${command} failed: ${(result.stderr || result.stdout).trim().split('\n').slice(-3).join(' ')}`);
  const [wall, user, system, rss] = spawnSync('tail', ['-n', '1', out], { encoding: 'utf8' }).stdout.trim().split(' ').map(Number);
  rmSync(out, { force: true });
  return { wall, user, system, rss };
}

function aimRound(options, build, samples) {
  const repo = join(options.work, `repo-${build}`);
  const dest = join(options.work, `dest-${build}`);
  const config = join(options.work, `config-${build}.yaml`);
  for (const path of [repo, dest, join(options.work, `home-${build}`)]) rmSync(path, { recursive: true, force: true });
  mkdirSync(repo, { recursive: true });
  writeFileSync(config, `repositories:\n  ab:\n    type: local\n    path: ${repo}\n`);
  const env = { ...process.env, AIM_CONFIG: config, AIM_HOME: join(options.work, `home-${build}`), NO_COLOR: '1' };
  const cli = `node ${join(options[build], 'dist/bundle/aim.js')}`;
  prepareCache(options);
  const push = timedShell(`${cli} model push ab m ${options.data} --tag v1 --json --quiet >/dev/null`, env);
  if (options.only.includes('push')) samples[`push ${build}`].push(push);
  if (options.only.includes('pull')) samples[`pull ${build}`].push(timedShell(`${cli} model pull ab m ${dest} --tag v1 --json --quiet >/dev/null`, env));
  rmSync(dest, { recursive: true, force: true });
}

function cpRound(options, samples) {
  const dest = join(options.work, 'dest-cp');
  rmSync(dest, { recursive: true, force: true });
  prepareCache(options);
  samples.cp.push(timedShell(`cp -r ${options.data} ${dest}`, process.env));
  rmSync(dest, { recursive: true, force: true });
}

const options = parse(process.argv.slice(2));
mkdirSync(options.work, { recursive: true });
const rows = [...options.only.flatMap((op) => [`${op} base`, `${op} new`]), 'cp'];
const samples = Object.fromEntries(rows.map((row) => [row, []]));
const loadStart = loadavg()[0];
for (let round = 0; round < options.rounds; round++) {
  for (const build of round % 2 === 0 ? ['base', 'new'] : ['new', 'base']) aimRound(options, build, samples);
  cpRound(options, samples);
  process.stderr.write(`round ${round + 1}/${options.rounds} done, load ${loadavg()[0].toFixed(1)}\n`);
}
rmSync(options.work, { recursive: true, force: true });

const med = (row, key) => median(samples[row].map((sample) => sample[key]));
const bytes = filesUnder(options.data).reduce((sum, file) => sum + statSync(file).size, 0);
console.log(`${options.data}: ${(bytes / 1e6).toFixed(1)} MB in ${filesUnder(options.data).length} files (${options.warm ? 'in the page cache' : 'not cached'}), ${options.rounds} rounds, load ${loadStart.toFixed(1)} -> ${loadavg()[0].toFixed(1)}`);
console.log('| row | wall (median) | MB/s | user | sys | peak RSS | vs cp | all walls |');
console.log('|---|---:|---:|---:|---:|---:|---:|---|');
for (const row of rows) {
  const wall = med(row, 'wall');
  const walls = samples[row].map((sample) => sample.wall.toFixed(2)).join(' ');
  console.log(`| ${row} | ${wall.toFixed(2)} s | ${(bytes / 1e6 / wall).toFixed(0)} | ${med(row, 'user').toFixed(2)} | ${med(row, 'system').toFixed(2)} | ${(med(row, 'rss') / 1024).toFixed(0)} MiB | ${(med('cp', 'wall') / wall).toFixed(2)}x | ${walls} |`);
}
for (const op of options.only) console.log(`${op}: new/base wall ${(med(`${op} new`, 'wall') / med(`${op} base`, 'wall')).toFixed(2)}, CPU ${((med(`${op} new`, 'user') + med(`${op} new`, 'system')) / (med(`${op} base`, 'user') + med(`${op} base`, 'system'))).toFixed(2)}`);
