#!/usr/bin/env node
// aim benchmark harness (issue 5): `npm run bench` builds, then this script installs the peer tools when missing,
// generates seeded data, runs aim (the real CLI), restic, borg, casync, rclone, tar, cp and b3sum back to back for
// several rounds, on local folders, s3rver and radosgw, and prints/writes medians and ratios against the targets.
// See `node bench/run.mjs --help`.
import { spawnSync } from 'node:child_process';
import { existsSync, statfsSync } from 'node:fs';
import { cp, mkdir, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadGenerator, prepareData, shapeTotals, smallTotal, warmPageCache } from './data.mjs';
import { emptySetAside, peersRound, shapeRound } from './folder-rows.mjs';
import { check, fmtBytes, GNU_TIME, machine, MiB, parseArgs, toolVersions } from './lib.mjs';
import { targets, writeResults } from './report.mjs';
import { startS3rver } from './s3.mjs';
import { probeS3, s3Round, startRadosgw } from './s3-suite.mjs';
import { aim, aimLocalRound, Recorder, resticRound, startupTimes, toolsRound, writeAimConfig } from './suites.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
// `--only scale` is its own harness: repositories naming millions of foreign chunks (bench/scale.mjs, its own flags).
if (process.argv.slice(2).join(' ').includes('--only scale')) await import('./scale.mjs').then(() => process.exit(0));
// `--only serve` too: the embedded engine's serving speed, 1 and 4 concurrent clients (bench/serve.mjs).
if (process.argv.slice(2).join(' ').includes('--only serve')) await import('./serve.mjs').then(() => process.exit(0));
process.chdir(root);
const options = parseArgs(process.argv.slice(2));
const want = (...suites) => !options.only || suites.some((suite) => options.only.includes(suite));
const started = new Date();
const loadAtStart = (await import('node:os')).loadavg().map((x) => +x.toFixed(2));
const notes = [];

console.log('aim bench: setup');
const setup = spawnSync('bash', ['scripts/bench-setup.sh'], { encoding: 'utf8' });
for (const line of `${setup.stdout}${setup.stderr}`.trim().split('\n').filter(Boolean)) {
  console.log(`  ${line}`);
  if (/missing|failed/.test(line)) notes.push(line);
}
if (!existsSync('dist/bundle/aim.js')) {
  console.error('dist/bundle/aim.js is missing: run `npm run build` (or `npm run bench`, which builds first)');
  process.exit(1);
}
const gen = await loadGenerator();
const size = gen.parseSize(options.size);
const work = resolve(options.work ?? 'bench/work');
await mkdir(work, { recursive: true });

// Data: 3 variants, the model-like folder + small files; then aim repo, restic repo, a restored copy, s3rver's copies
// (aim + rclone), and one tool's repository and restored copy of the model-like folder at a time; and what is set
// aside until the last round (folder-rows.mjs): casync's stores of v1 and of the model-like folder, each round.
const { bavail, bsize } = statfsSync(work);
const free = bavail * bsize;
const needed = size * (13 + 2.2 * options.rounds) + 1024 * MiB;
if (free < needed) {
  console.error(`not enough free disk in ${work}: ${(free / 2 ** 30).toFixed(1)} GiB free, about ${(needed / 2 ** 30).toFixed(1)} GiB needed for --size ${options.size}`);
  process.exit(1);
}

// Others rebuild dist/ while they work; a snapshot of it keeps every round on the same build. Packages still resolve
// from the project's node_modules (the snapshot lives under it), and ../../package.json gives the version.
const build = join(work, 'aim-build');
await rm(build, { recursive: true, force: true });
await cp('dist', join(build, 'dist'), { recursive: true });
await cp('package.json', join(build, 'package.json'));
const ctx = {
  work,
  cli: join(build, 'dist', 'bundle', 'aim.js'),
  configPath: join(work, 'model_repos.yaml'),
  aimHome: join(work, 'aim-home'),
  aimRepo: join(work, 'aim-repo'),
  shapeRepo: join(work, 'shape-aim-repo'),
  s3: undefined,
};
await writeAimConfig(ctx);

console.log(`aim bench: data (${options.size}) in ${work}`);
const data = await prepareData(gen, work, size, options.smallFiles, options.tinyFiles);
data.smallBytes = await smallTotal(data);
await shapeTotals(data);
const shapes = [
  { suite: 'model', key: 'model', name: 'model folder', dir: data.model.dir, bytes: data.model.bytes, files: data.model.files, group: `model-like folder (${data.model.files} files, ${fmtBytes(data.model.bytes)})` },
  { suite: 'tiny', key: 'tiny', name: `${options.tinyFiles} files`, dir: data.tiny.dir, bytes: data.tiny.bytes, files: data.tiny.files, group: `${options.tinyFiles} tiny files (${fmtBytes(data.tiny.bytes)})` },
];

const rec = new Recorder();
// One entry per S3 server the run wants: { name, server (once started), reason (why there are no rows) }.
const s3Targets = [['s3rver', startS3rver], ['radosgw', startRadosgw]].filter(([name]) => want('s3', name)).map(([name, start]) => ({ name, start, reason: 'not started' }));
const stopAll = async () => {
  for (const target of s3Targets) if (target.server) await target.server.stop().catch(() => {});
  for (const target of s3Targets) target.server = undefined;
};
process.on('SIGINT', () => { stopAll().finally(() => process.exit(130)); });

for (const target of s3Targets) {
  if (!options.s3) { target.reason = 'skipped (--no-s3)'; continue; }
  try {
    target.server = await target.start(join(work, target.name));
    await probeS3(ctx, target.name, target.server);
    console.log(`aim bench: ${target.name} at ${target.server.endpoint}, aim's S3 backend answers`);
  } catch (error) {
    if (target.server) await target.server.stop().catch(() => {});
    target.server = undefined;
    target.reason = error.message.split('\n')[0].slice(0, 200);
    console.log(`aim bench: ${target.name} rows skipped (${target.reason})`);
  }
}

for (let round = 1; round <= options.rounds; round++) {
  console.log(`aim bench: round ${round}/${options.rounds}`);
  await warmPageCache(data);
  if (want('aim')) await aimLocalRound(ctx, rec, data, round);
  if (want('restic')) await resticRound(ctx, rec, data);
  if (want('tools')) await toolsRound(ctx, rec, data);
  if (want('peers')) await peersRound(ctx, rec, data);
  for (const shape of shapes) if (want('shapes', shape.suite)) await shapeRound(ctx, rec, shape, round);
  for (const target of s3Targets) await s3Round(ctx, rec, data, round, target);
}
await stopAll();
await emptySetAside(ctx);

if (want('startup')) {
  console.log('aim bench: start-up times');
  await startupTimes(ctx, rec, options.startupRuns);
}

if (options.big) {
  const bigSize = gen.parseSize(options.big);
  const { bavail: a, bsize: b } = statfsSync(work);
  const label = `aim push ${options.big} file (empty repo)`;
  if (a * b < bigSize * 2.2) rec.na('aim.big.push', label, 'aim (local folder)', `n/a: needs ${(bigSize * 2.2 / 2 ** 30).toFixed(0)} GiB free`);
  else {
    console.log(`aim bench: one push of a ${options.big} file for peak RSS`);
    const bigDir = join(work, 'big');
    const saved = ctx.aimRepo;
    ctx.aimRepo = join(work, 'big-repo');
    await rm(ctx.aimRepo, { recursive: true, force: true });
    await mkdir(ctx.aimRepo, { recursive: true });
    await writeAimConfig(ctx);
    try {
      await gen.writeRandomFile(join(bigDir, 'model.bin'), bigSize, 'aim-bench-big');
      const r = check(await aim(ctx, ['model', 'push', 'bench', 'big', bigDir, '--tag', 'v1']), label);
      rec.add('aim.big.push', label, 'aim (local folder)', { bytes: bigSize, wall: r.wall, sync: r.sync, rssKiB: r.rssKiB, internal: r.json?.seconds });
      console.log(`    ${label}: ${r.wall.toFixed(1)} s, ${(bigSize / r.wall / 1e6).toFixed(0)} MB/s, peak RSS ${(r.rssKiB / 1024).toFixed(0)} MiB`);
    } catch (error) {
      rec.na('aim.big.push', label, 'aim (local folder)', `error: ${error.message}`);
    }
    await rm(bigDir, { recursive: true, force: true });
    await rm(ctx.aimRepo, { recursive: true, force: true });
    ctx.aimRepo = saved;
  }
}

const goals = targets(rec);
const meta = {
  started: started.toISOString(),
  finished: new Date().toISOString(),
  size,
  rounds: options.rounds,
  smallFiles: options.smallFiles,
  smallBytes: data.smallBytes,
  shapes: shapes.map(({ key, group }) => ({ key, group })),
  rssSource: GNU_TIME ? 'GNU time %M' : 'process.resourceUsage().maxRSS via --import preload (node only)',
  machine: { ...machine(toolVersions(ctx.cli)), loadAtStart },
  notes,
};
const { dir, md } = await writeResults(rec, meta, goals, resolve('bench/results'));
console.log(`\n${md}`);
console.log(`results: ${dir}/results.{json,md} and bench/results/latest.md`);

for (const name of ['aim-build', 'aim-repo', 'aim-dest', 'aim-home', 'restic-repo', 'restic-cache', 'restic-dest', 'tools-dest', 's3-dest', 's3rver', 'radosgw', 'shape-aim-repo', 'folder-dest', 'borg-home', 'set-aside']) {
  await rm(join(work, name), { recursive: true, force: true });
}
if (!options.keep) await rm(join(work, 'data'), { recursive: true, force: true });
