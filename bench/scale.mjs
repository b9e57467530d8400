#!/usr/bin/env node
// The scale benchmark (issue 21): does a command about one small model cost the same in a repository whose
// metadata names 1, 5 or 20 million foreign chunks? Foreign metadata is synthesized (bench/scale-synth.mjs, bytes
// absent), the same repository grows from size to size, and the real CLI pushes, pulls and verifies a small seeded
// model in it: wall time, peak RSS (GNU time), and from AIM_IO_STATS the metadata bytes read and requests made.
// `--before DIR` also runs an older build (DIR/dist) on its own repositories, for before/after. See --help.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, rm, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadGenerator } from './data.mjs';
import { GNU_TIME, machine, toolVersions } from './lib.mjs';
import { S3_ENV } from './s3.mjs';
import { ioSummary, measureAim, startRadosgw } from './scale-lib.mjs';
import { writeScaleResults } from './scale-report.mjs';
import { folderTarget, s3Target, synthesize } from './scale-synth.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);

const USAGE = `usage: npm run bench:scale -- [--sizes 1M,5M,20M] [--backends local,radosgw] [--rounds 3]
                          [--before DIR] [--before-sizes 1M] [--builds after,before] [--model-size 4MiB] [--work bench/work/scale] [--keep]
  --sizes         foreign chunks named by the repository's metadata, grown in this order (K and M suffixes)
  --backends      local (a folder) and/or radosgw (scripts/radosgw/start.sh, objects in RAM)
  --before DIR    a worktree holding an older build (DIR/dist/bundle/aim.js), measured on its own repositories
                  at --before-sizes; it has no AIM_IO_STATS, so its I/O columns say n/a
  --builds        which of after,before to run (default: both when --before is given)
  --keep          keep the work folder (the synthesized repositories) for the next run`;

function parseOptions(argv) {
  const options = { sizes: ['1M', '5M', '20M'], backends: ['local', 'radosgw'], rounds: 3, before: undefined, beforeSizes: ['1M'], builds: undefined, modelSize: '4MiB', work: 'bench/work/scale', keep: false };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2);
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case '--sizes': options.sizes = value().split(','); break;
      case '--backends': options.backends = value().split(','); break;
      case '--rounds': options.rounds = Number(value()); break;
      case '--before': options.before = resolve(value()); break;
      case '--before-sizes': options.beforeSizes = value().split(','); break;
      case '--builds': options.builds = value().split(','); break;
      case '--model-size': options.modelSize = value(); break;
      case '--work': options.work = value(); break;
      case '--keep': options.keep = true; break;
      case '--only': value(); break; // `node bench/run.mjs --only scale` hands its arguments over as they are
      case '-h': case '--help': console.log(USAGE); process.exit(0);
      default: throw new Error(`unknown option ${argv[i]} (see --help)`);
    }
  }
  for (const size of [...options.sizes, ...options.beforeSizes]) if (!(chunkCount(size) > 0)) throw new Error(`--sizes: ${size} is not a count like 1M or 500K`);
  for (const backend of options.backends) if (!['local', 'radosgw'].includes(backend)) throw new Error(`--backends: ${backend} is not local or radosgw`);
  if (!(options.rounds >= 1)) throw new Error('--rounds must be >= 1');
  return options;
}

function chunkCount(label) {
  const match = /^(\d+(?:\.\d+)?)([KM]?)$/i.exec(label);
  return match ? Math.round(Number(match[1]) * { '': 1, K: 1e3, M: 1e6 }[match[2].toUpperCase()]) : NaN;
}

/** A snapshot of a build's dist/ in the work folder: others rebuild theirs while this runs. */
async function snapshotBuild(from, to) {
  if (!existsSync(join(from, 'dist/bundle/aim.js'))) throw new Error(`${from}/dist/bundle/aim.js is missing: run npm run build there`);
  await rm(to, { recursive: true, force: true });
  await cp(join(from, 'dist'), join(to, 'dist'), { recursive: true });
  await cp(join(from, 'package.json'), join(to, 'package.json'));
  return join(to, 'dist/bundle/aim.js');
}

const options = parseOptions(process.argv.slice(2));
const work = resolve(options.work);
const started = new Date();
const loadAtStart = loadavg().map((x) => +x.toFixed(2));
// Models and their data are new in every run, so a kept repository never turns a measured push into a re-push.
const runId = started.toISOString().replace(/\D/g, '').slice(4, 12);
await mkdir(work, { recursive: true });
const gen = await loadGenerator();
const wantBuild = (name) => !options.builds || options.builds.includes(name);
const builds = [];
if (wantBuild('after')) builds.push({ name: 'after', cli: await snapshotBuild(root, join(work, 'build-after')), sizes: options.sizes });
if (options.before && wantBuild('before')) builds.push({ name: 'before', cli: await snapshotBuild(options.before, join(work, 'build-before')), sizes: options.beforeSizes });

let radosgw;
const stopAll = async () => { await radosgw?.stop().catch(() => {}); radosgw = undefined; };
process.on('SIGINT', () => { stopAll().finally(() => process.exit(130)); });
if (options.backends.includes('radosgw')) {
  console.log('scale bench: starting radosgw');
  radosgw = await startRadosgw(join(work, 'radosgw'));
}

/** The repositories of one build: a folder and/or a radosgw prefix, named in its own model_repos.yaml. */
async function repositoriesOf(build) {
  const repos = [];
  if (options.backends.includes('local')) {
    const path = join(work, `repo-${build.name}`);
    if (!options.keep) await rm(path, { recursive: true, force: true }), await rm(`${path}.synthesized.json`, { force: true });
    await mkdir(path, { recursive: true });
    repos.push({ backend: 'local', name: 'local', yaml: `  local:\n    type: local\n    path: ${path}\n    packs: true\n`, target: folderTarget(path, `${path}.synthesized.json`) });
  }
  if (radosgw) {
    const prefix = `${build.name}/`;
    const stateFile = join(work, `rgw-${build.name}.synthesized.json`);
    await rm(stateFile, { force: true }); // radosgw keeps its objects in RAM: every run starts from an empty one
    repos.push({ backend: 'radosgw', name: 'rgw', yaml: `  rgw:\n    type: s3\n    path: s3://${radosgw.bucket}/${prefix}\n    endpoint: ${radosgw.endpoint}\n    region: us-east-1\n`, target: await s3Target(radosgw, prefix, stateFile) });
  }
  const config = join(work, `model_repos-${build.name}.yaml`);
  await writeFile(config, `# written by bench/scale.mjs\nrepositories:\n${repos.map((r) => r.yaml).join('')}`);
  return { repos, env: { ...process.env, ...S3_ENV, AIM_CONFIG: config, NO_COLOR: '1' } };
}

const samples = [];
const freshHome = () => join(work, 'homes', randomUUID());

/** One measured command: a sample for the table, a line on the console. */
async function measure(row, build, env, args, home) {
  const load = loadavg()[0];
  try {
    const r = await measureAim(build.cli, args, { ...env, AIM_HOME: home ?? freshHome() }, join(work, 'io'));
    const io = ioSummary(r.io);
    samples.push({ ...row, build: build.name, wall: r.wall, rssKiB: r.rssKiB, io, counts: r.io, load });
    const ioText = io ? `${io.requests} requests, metadata read ${(io.metadataRead / 1e6).toFixed(2)} MB` : 'io n/a';
    console.log(`    ${build.name.padEnd(6)} ${row.backend.padEnd(7)} ${row.size.padEnd(4)} ${row.op.padEnd(10)} ${r.wall.toFixed(2).padStart(7)} s  rss ${((r.rssKiB ?? 0) / 1024).toFixed(0).padStart(5)} MiB  ${ioText}`);
  } catch (error) {
    samples.push({ ...row, build: build.name, error: error.message, load });
    console.log(`    ! ${build.name} ${row.backend} ${row.size} ${row.op}: ${error.message}`);
  }
}

/** push v1, pull (fresh AIM_HOME), pull again (same AIM_HOME: warm cache), verify, push v2 of a small model. */
async function measureRound(build, env, repo, size, round) {
  const data = join(work, 'data', `${runId}-${size}-${round}`);
  const v1 = join(data, 'v1');
  const v2 = join(data, 'v2');
  const modelBytes = gen.parseSize(options.modelSize);
  if (!existsSync(v2)) {
    await gen.generateModel(v1, { files: [{ path: 'weights.bin', size: modelBytes }, { path: 'config.json', size: 300 }], seed: `scale:${runId}:${size}:${round}` });
    await mkdir(v2, { recursive: true });
    await gen.deriveFile(join(v1, 'weights.bin'), join(v2, 'weights.bin'), gen.spreadChanges(modelBytes, 0.05, 2), `scale:${runId}:${size}:${round}:v2`);
    await cp(join(v1, 'config.json'), join(v2, 'config.json'));
  }
  const model = `s${size.toLowerCase()}-r${round}-${runId}`;
  const row = (op) => ({ backend: repo.backend, size, entries: repo.entries, op, round });
  const dest = join(work, 'dest');
  const pullHome = freshHome();
  await measure(row('push v1'), build, env, ['push', `${repo.name}/${model}:v1`, v1]);
  await measure(row('pull'), build, env, ['pull', `${repo.name}/${model}:v1`, join(dest, 'a')], pullHome);
  await measure(row('pull warm'), build, env, ['pull', `${repo.name}/${model}:v1`, join(dest, 'b')], pullHome);
  await measure(row('verify'), build, env, ['verify', repo.name, `${model}:v1`]);
  await measure(row('push v2'), build, env, ['push', `${repo.name}/${model}:v2`, v2]);
  await rm(dest, { recursive: true, force: true });
  await rm(join(work, 'homes'), { recursive: true, force: true });
}

try {
  for (const build of builds) {
    const { repos, env } = await repositoriesOf(build);
    for (const repo of repos) {
      // aim-repo.json (and the repository's first tag) come from a real push, before any foreign metadata.
      const seed = join(work, 'data', 'seed');
      if (!existsSync(seed)) await gen.generateModel(seed, { files: [{ path: 'seed.bin', size: 100_000 }], seed: 'scale:seed' });
      await measureAim(build.cli, ['push', `${repo.name}/seed:v1`, seed], { ...env, AIM_HOME: freshHome() }, join(work, 'io'));
      for (const size of build.sizes) {
        console.log(`scale bench: ${build.name}, ${repo.backend}: growing to ${size} foreign chunks`);
        const grown = await synthesize(repo.target, chunkCount(size), { log: console.log });
        repo.entries = grown.entries;
        console.log(`  ${grown.shards} shards (${grown.written} written now, ${(grown.bytes / 1e6).toFixed(0)} MB, ${grown.keys} key objects, ${grown.seconds.toFixed(0)} s)`);
        for (let round = 1; round <= options.rounds; round++) await measureRound(build, env, repo, size, round);
      }
    }
  }
} finally {
  await stopAll();
}

const meta = {
  started: started.toISOString(),
  finished: new Date().toISOString(),
  options: { ...options, before: options.before },
  rssSource: GNU_TIME ? 'GNU time %M' : 'process.resourceUsage().maxRSS via --import preload',
  machine: machine(toolVersions(builds[0]?.cli)),
  loadAtStart,
  loadAtEnd: loadavg().map((x) => +x.toFixed(2)),
};
const { dir, md } = await writeScaleResults(samples, meta, resolve('bench/results'));
console.log(`\n${md}`);
console.log(`results: ${dir}/results.{json,md}`);
if (!options.keep) await rm(work, { recursive: true, force: true });
