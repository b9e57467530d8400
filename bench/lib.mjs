// Small helpers for the benchmark: argument parsing, timed child processes with peak RSS, medians, du, machine facts.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { cpus, loadavg, totalmem, tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// A machine-wide NODE_EXTRA_CA_CERTS makes every node process parse that CA bundle before its first line runs: on the
// benchmark VM about 100 ms per start (`aim --version` 0.16-0.22 s with it, 0.09-0.11 s without), paid by aim in every
// row and by none of the Go and C tools beside it. No row talks TLS, so every tool runs without it; machine() records
// that it was set.
const CLEARED_ENV = ['NODE_EXTRA_CA_CERTS'].filter((name) => process.env[name] !== undefined);
for (const name of CLEARED_ENV) delete process.env[name];

export const GNU_TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
const RSS_PRELOAD = fileURLToPath(new URL('./rss-preload.mjs', import.meta.url));

export function parseArgs(argv) {
  const options = { size: '2GiB', rounds: 3, work: undefined, only: undefined, big: undefined, keep: false, s3: true, startupRuns: 10, smallFiles: 2000, tinyFiles: 10000 };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2);
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case '--size': options.size = value(); break;
      case '--rounds': options.rounds = Number(value()); break;
      case '--work': options.work = value(); break;
      case '--only': options.only = value().split(','); break;
      case '--big': options.big = value(); break;
      case '--small-files': options.smallFiles = Number(value()); break;
      case '--tiny-files': options.tinyFiles = Number(value()); break;
      case '--startup-runs': options.startupRuns = Number(value()); break;
      case '--no-s3': options.s3 = false; break;
      case '--keep': options.keep = true; break;
      case '-h': case '--help':
        console.log(`usage: node bench/run.mjs [--size 2GiB] [--rounds 3] [--work bench/work]
                          [--only aim,restic,tools,peers,model,tiny,shapes,s3,s3rver,radosgw,startup]
                          [--small-files 2000] [--tiny-files 10000] [--startup-runs 10] [--no-s3] [--big 8GiB] [--keep]
  --only       suites to run: peers = borg and casync on v1; model, tiny (or shapes = both) = every tool on the
               model-like folder / the tiny files; s3 = s3rver and radosgw (or name one)
  --big SIZE   also push one SIZE file once with aim and record its peak RSS (needs ~2x SIZE free disk)
  --keep       keep the generated data in the work folder (it is reused when the size matches)`);
        process.exit(0);
      default: throw new Error(`unknown option ${argv[i]} (see --help)`);
    }
  }
  if (!(options.rounds >= 1)) throw new Error('--rounds must be >= 1');
  return options;
}

/**
 * Runs a command, returns { ok, code, wall (s), sync (s), rssKiB, stdout, stderr, json }. Peak RSS comes from GNU time
 * when present, else (node commands only) from a preload that writes process.resourceUsage().maxRSS at exit.
 *
 * `durable` (the default): the clock stops once what the command wrote is on disk, a `sync` run inside it (`sync`, its
 * share of `wall`). aim's pull and push make their files durable before they exit; restic, borg and casync leave theirs
 * in the page cache for the kernel to write back later, and the plain `cp` and tar rows have always ended in `sync`.
 * Timed without it, a tool that leaves its writes to the kernel was measured against one that waits for the disk.
 */
export async function timed(cmd, args, { env = process.env, cwd, input, dropCaches = false, durable = true } = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'aim-bench-t-'));
  const out = join(dir, 'rss');
  let argv = [cmd, ...args];
  let childEnv = env;
  if (GNU_TIME) argv = [GNU_TIME, '-f', '%e %M', '-o', out, ...argv];
  else if (cmd === process.execPath) {
    argv = [cmd, '--import', RSS_PRELOAD, ...args];
    childEnv = { ...env, AIM_BENCH_RSS_FILE: out };
  }
  // Write back what earlier steps left dirty before the clock starts, so no tool pays for its predecessor's writes.
  spawnSync('sync');
  if (dropCaches) dropPageCache();
  const started = process.hrtime.bigint();
  const result = await new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), { env: childEnv, cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    const stdout = [];
    const stderr = [];
    child.stdout.on('data', (d) => stdout.push(d));
    child.stderr.on('data', (d) => stderr.push(d));
    child.on('error', (error) => resolve({ code: -1, stdout: '', stderr: String(error) }));
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(stdout).toString(), stderr: Buffer.concat(stderr).toString() }));
    child.stdin.end(input ?? '');
  });
  const exited = process.hrtime.bigint();
  if (durable) spawnSync('sync');
  const ended = process.hrtime.bigint();
  const wall = Number(ended - started) / 1e9;
  const sync = Number(ended - exited) / 1e9;
  let rssKiB;
  try {
    const text = (await readFile(out, 'utf8')).trim().split('\n').pop();
    rssKiB = Number(GNU_TIME ? text.split(' ')[1] : text);
    if (!Number.isFinite(rssKiB)) rssKiB = undefined;
  } catch { rssKiB = undefined; }
  await rm(dir, { recursive: true, force: true });
  let json;
  try { json = JSON.parse(result.stdout); } catch { json = undefined; }
  // GNU time prefixes "Command exited with non-zero status" to its -o file only, so stderr is the command's own.
  return { ok: result.code === 0, code: result.code, wall, sync, rssKiB, stdout: result.stdout, stderr: result.stderr, json };
}

/**
 * Empties the page cache (clean pages, dentries and inodes), as the issue's own figures were taken ("cold cache, sync
 * after each"): the kernel's drop_caches, which takes root. Throws where it cannot (the row then says n/a and why).
 * What a virtual machine's host holds under the guest stays: that is the same for every tool.
 */
export function dropPageCache() {
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '3\n');
  } catch (error) {
    throw new Error(`n/a: dropping the page cache needs root (/proc/sys/vm/drop_caches: ${error.code ?? error.message})`);
  }
}

/** Throws a readable error for a failed timed() result. */
/**
 * The options of an A/B script (ab.mjs, startup-ab.mjs): `--KEY VALUE` for each key of `defaults`, a number where
 * the default is one, a list split at commas where it is an array, a path resolved for the keys in `paths`; `--KEY`
 * alone where the default is a boolean. `required` keys must be given.
 */
export function parseAbOptions(argv, defaults, { script, paths = ['base', 'new', 'data', 'work'], required = ['base', 'data'] }) {
  const options = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i].startsWith('--') ? argv[i].slice(2) : '';
    if (!(key in defaults)) throw new Error(`unknown option ${argv[i]} (see the comment at the top of bench/${script})`);
    const current = defaults[key];
    if (typeof current === 'boolean') {
      options[key] = true;
      continue;
    }
    const value = argv[++i];
    options[key] = typeof current === 'number' ? Number(value) : Array.isArray(current) ? value.split(',') : paths.includes(key) ? resolve(value) : value;
  }
  const missing = required.filter((key) => !options[key]);
  if (missing.length > 0) throw new Error(`${missing.map((key) => `--${key}`).join(' and ')} required (see the comment at the top of bench/${script})`);
  return options;
}

export function check(result, what) {
  if (result.ok) return result;
  const lines = (result.stderr || result.stdout).trim().split('\n').filter((l) => l && !/NOTICE:/.test(l));
  const reason = lines.find((l) => /error|fatal|denied|not found|failed/i.test(l)) ?? lines[0] ?? `exit code ${result.code}`;
  throw new Error(`${what}: ${reason.replace(/\x1b\[[0-9;]*m/g, '').slice(0, 200)}`);
}

export function run(cmd, args, options = {}) {
  return spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...options });
}

export function have(cmd) {
  return run('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

export function duBytes(path) {
  if (!existsSync(path)) return 0;
  const r = run('du', ['-sb', path]);
  return r.status === 0 ? Number(r.stdout.split(/\s/)[0]) : NaN;
}

/**
 * A copy of the folder `source` at `target`, written just now around the page cache (`dd oflag=direct`) with its
 * pages dropped: the state a pull finds the packs its push just wrote in, and a model copied in from elsewhere. Not
 * `source` itself, which every round reads: dropping the guest's pages (`dd iflag=nocache`) does not drop what the
 * host under a virtual machine may still hold, and a `cp` of v1 read that way ran 1.27-1.74 s where a copy of a fresh
 * file took 1.84-2.72 s in the same rounds (docs/benchmarks.md).
 */
export function uncachedCopy(source, target) {
  rmSync(target, { recursive: true, force: true });
  const listed = run('find', [source, '-type', 'f']);
  if (listed.status !== 0) throw new Error(`find ${source}: ${listed.stderr.trim()}`);
  const copies = listed.stdout.split('\n').filter(Boolean).map((file) => [file, join(target, relative(source, file))]);
  for (const [file, copy] of copies) {
    mkdirSync(dirname(copy), { recursive: true });
    // A file system without O_DIRECT (tmpfs) gets the usual writes.
    const dd = (...flags) => run('dd', [`if=${file}`, `of=${copy}`, 'bs=16M', ...flags, 'status=none']);
    const copied = dd('oflag=direct').status === 0 ? { status: 0 } : dd();
    if (copied.status !== 0) throw new Error(`dd into ${target}: ${copied.stderr.trim()}`);
  }
  run('sync');
  for (const [, copy] of copies) run('dd', [`if=${copy}`, 'iflag=nocache', 'count=0', 'status=none']);
}

export function median(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

export function machine(tools) {
  let cpu = 'unknown';
  try { cpu = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpu; } catch {}
  let kernel = '';
  try { kernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim(); } catch {}
  const fs = run('df', ['-T', '.']).stdout?.split('\n')[1]?.split(/\s+/)[1];
  return { cpu, cores: cpus().length, loadavg: loadavg().map((x) => +x.toFixed(2)), memoryGiB: +(totalmem() / 1024 ** 3).toFixed(1), node: process.version, kernel, filesystem: fs, tools, clearedEnv: CLEARED_ENV };
}

export function toolVersions(cli = 'dist/bundle/aim.js') {
  const first = (cmd, args) => {
    const r = run(cmd, args);
    return r.status === 0 ? (r.stdout || r.stderr).trim().split('\n')[0] : undefined;
  };
  return {
    aim: first(process.execPath, [cli, '--version']),
    restic: first('restic', ['version']),
    rclone: first('rclone', ['version']),
    b3sum: first('b3sum', ['--version']),
    borg: first('borg', ['--version']),
    casync: first('casync', ['--version']),
    radosgw: first('radosgw', ['--version']),
    s3rver: (() => { try { return JSON.parse(readFileSync('node_modules/s3rver/package.json', 'utf8')).version; } catch { return undefined; } })(),
  };
}

export const MiB = 1024 * 1024;
export const fmtBytes = (n) => (n === undefined || !Number.isFinite(n) ? '—' : n >= 1e9 ? `${(n / 1e9).toFixed(2)} GB` : n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} kB` : `${n} B`);
