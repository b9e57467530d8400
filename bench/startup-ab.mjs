// A/B of two builds' start-up, interleaved in one series: an unchanged re-push of a large file (the stat cache
// vouches for it, so the run is start-up plus a few small reads and writes), a pull of a tiny model into a fresh
// folder, and `aim --version`. On a shared machine only runs that alternate within one series compare.
//
//   node bench/startup-ab.mjs --base /work/wt/x-base --new . --data /tmp/one-big-file-folder [--rounds 9] [--work DIR]
//
// Each build gets its own work folder (config, AIM_HOME, a local folder repository) and pushes DATA and a tiny model
// once, untimed. Each round then runs every row for `base` and `new`, their order swapped every round; a re-push
// takes a new tag each time, as the benchmark's row does. Reports per row and build the median wall time and the
// median user+system CPU (from wait4), the new/base ratio, and the 1-minute load at the start and the end.
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { median, parseAbOptions } from './lib.mjs';

function parse(argv) {
  return parseAbOptions(argv, { base: undefined, new: resolve('.'), data: undefined, rounds: 9, work: join(tmpdir(), 'aim-startup-ab') }, { script: 'startup-ab.mjs' });
}

// GNU time prints CPU seconds to 10 ms, as much as a whole start-up differs by: a child's times are taken from
// wait4() instead, to the microsecond, by a few lines of Python around the exec.
const TIMER = [
  'import os, sys, time',
  'start = time.monotonic()',
  'pid = os.fork()',
  'if pid == 0:',
  '    fd = os.open(os.devnull, os.O_WRONLY); os.dup2(fd, 1); os.execvp(sys.argv[1], sys.argv[1:])',
  '_, status, usage = os.wait4(pid, 0)',
  'wall = time.monotonic() - start',
  'sys.stderr.write("%f %f %f\\n" % (wall, usage.ru_utime, usage.ru_stime))',
  'sys.exit(os.waitstatus_to_exitcode(status))',
].join('\n');

/** Runs `node CHECKOUT/bin/aim.js ...args` (its output dropped); fails loudly on a non-zero exit. */
function timedAim(build, args) {
  const result = spawnSync('python3', ['-c', TIMER, 'node', join(build.checkout, 'bin', 'aim.js'), ...args], {
    env: { ...process.env, AIM_CONFIG: build.config, AIM_HOME: build.home },
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`aim ${args.join(' ')} (${build.name}) exited ${result.status}: ${result.stderr}`);
  const [wall, user, sys] = result.stderr.trim().split('\n').at(-1).split(' ').map(Number);
  return { wall, cpu: user + sys };
}

function prepare(name, checkout, options) {
  const work = join(options.work, name);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(join(work, 'tiny'), { recursive: true });
  for (let i = 0; i < 5; i++) writeFileSync(join(work, 'tiny', `file-${i}.json`), JSON.stringify({ i, pad: 'x'.repeat(100 * i) }));
  const build = { name, checkout, work, config: join(work, 'model_repos.yaml'), home: join(work, 'home') };
  timedAim(build, ['repo', 'create', 'bench', '--type', 'local', '--path', join(work, 'repo')]);
  timedAim(build, ['model', 'push', 'bench', 'big', options.data, '--tag', 'v1', '--json', '--quiet']);
  timedAim(build, ['model', 'push', 'bench', 'tiny', join(work, 'tiny'), '--tag', 'v1', '--json', '--quiet']);
  return build;
}

const ROWS = {
  're-push (unchanged)': (build, options, round) => timedAim(build, ['model', 'push', 'bench', 'big', options.data, '--tag', `again-${round}`, '--json', '--quiet']),
  'pull tiny model': (build, options, round) => {
    const dest = join(build.work, `pulled-${round}`);
    const timing = timedAim(build, ['model', 'pull', 'bench', 'tiny', dest, '--tag', 'v1', '--json', '--quiet']);
    rmSync(dest, { recursive: true, force: true });
    return timing;
  },
  '--version': (build) => timedAim(build, ['--version']),
};

const options = parse(process.argv.slice(2));
const builds = [prepare('base', options.base, options), prepare('new', options.new, options)];
const loadAtStart = loadavg()[0];
const samples = new Map();
for (let round = 0; round < options.rounds; round++) {
  for (const build of round % 2 ? [...builds].reverse() : builds) {
    for (const [row, run] of Object.entries(ROWS)) {
      const key = `${row}|${build.name}`;
      if (!samples.has(key)) samples.set(key, []);
      samples.get(key).push(run(build, options, round));
    }
  }
}
console.log(`load (1 min) ${loadAtStart.toFixed(2)} at the start, ${loadavg()[0].toFixed(2)} at the end; ${options.rounds} rounds`);
console.log('| row | base wall | new wall | new/base | base CPU | new CPU | new/base |');
console.log('|---|---|---|---|---|---|---|');
for (const row of Object.keys(ROWS)) {
  const [base, next] = ['base', 'new'].map((name) => samples.get(`${row}|${name}`));
  const wall = [base, next].map((list) => median(list.map((s) => s.wall)));
  const cpu = [base, next].map((list) => median(list.map((s) => s.cpu)));
  const ms = (seconds) => `${(seconds * 1000).toFixed(1)} ms`;
  console.log(`| ${row} | ${ms(wall[0])} | ${ms(wall[1])} | ${(wall[1] / wall[0]).toFixed(2)} | ${ms(cpu[0])} | ${ms(cpu[1])} | ${(cpu[1] / cpu[0]).toFixed(2)} |`);
}
