// The measured operations, one round at a time. Each `measure` call adds one sample to a row of the Recorder;
// a failing or unavailable operation makes its row say "n/a: <reason>" (or "error: ...") instead of stopping the run.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { check, duBytes, have, median, run, timed, uncachedCopy } from './lib.mjs';
import { S3_ENV } from './s3.mjs';

export class Recorder {
  constructor() { this.rows = new Map(); }
  row(key, label, group) {
    if (!this.rows.has(key)) this.rows.set(key, { key, label, group, samples: [], notes: new Set() });
    return this.rows.get(key);
  }
  na(key, label, group, reason) { this.row(key, label, group).notes.add(reason); }
  /** sample: { bytes (logical), wall, rssKiB, internal?, added? (bytes stored) } */
  add(key, label, group, sample) { this.row(key, label, group).samples.push(sample); }
  summary(key) {
    const row = this.rows.get(key);
    if (!row || row.samples.length === 0) return undefined;
    const s = row.samples;
    const rates = s.map((x) => x.bytes / x.wall / 1e6);
    const internal = s.filter((x) => x.internal).map((x) => x.bytes / x.internal / 1e6);
    const rss = s.map((x) => x.rssKiB).filter((x) => x !== undefined);
    return {
      n: s.length,
      bytes: median(s.map((x) => x.bytes)),
      wall: median(s.map((x) => x.wall)),
      mbps: median(rates),
      internalMbps: median(internal),
      rssMiB: rss.length ? Math.max(...rss) / 1024 : undefined,
      rssMedianMiB: rss.length ? median(rss) / 1024 : undefined,
      added: median(s.map((x) => x.added)),
      addedRange: [Math.min(...s.map((x) => x.added ?? Infinity)), Math.max(...s.map((x) => x.added ?? -Infinity))],
      files: median(s.map((x) => x.files)),
      /** Seconds of the wall the trailing sync took (timed's `durable`): writes the command left to the kernel. */
      sync: median(s.map((x) => x.sync)),
    };
  }
}

/** Runs fn, records its failure as a note on the row instead of throwing. */
export async function guard(rec, key, label, group, fn) {
  try {
    await fn();
  } catch (error) {
    rec.na(key, label, group, error.message.startsWith('n/a: ') ? error.message : `error: ${error.message}`);
    console.log(`    ! ${label}: ${error.message}`);
  }
}

export function log(label, r, bytes, serverSeconds) {
  const rss = r.rssKiB ? `${(r.rssKiB / 1024).toFixed(0)} MiB` : '?';
  const server = serverSeconds === undefined ? '' : `  server cpu ${serverSeconds.toFixed(2)} s`;
  const sync = r.sync >= 0.005 ? `  (sync ${r.sync.toFixed(2)} s)` : '';
  console.log(`    ${label.padEnd(44)} ${r.wall.toFixed(2).padStart(7)} s  ${(bytes / r.wall / 1e6).toFixed(0).padStart(6)} MB/s  rss ${rss}${server}${sync}`);
}

/** CPU seconds the S3 server's processes (one for s3rver; monitor, OSD and gateway for radosgw) have used so far (Linux), or undefined. */
function serverCpu(server) {
  try {
    let total = 0;
    for (const pid of server.pids ?? [server.pid]) {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      total += (Number(fields[11]) + Number(fields[12])) / 100;
    }
    return total;
  } catch {
    return undefined;
  }
}

/** Runs `fn`; also gives the CPU seconds `server` spent meanwhile (undefined without one), to show what each S3 row cost it. */
export async function withServerCpu(server, fn) {
  const before = server ? serverCpu(server) : undefined;
  const result = await fn();
  const after = before === undefined ? undefined : serverCpu(server);
  return [result, after === undefined ? undefined : after - before];
}

export function aimEnv(ctx) {
  return { ...process.env, ...S3_ENV, AIM_CONFIG: ctx.configPath, AIM_HOME: ctx.aimHome, NO_COLOR: '1' };
}

/** aim's concurrency on the S3 repository, written into its config so rclone's --transfers can match it. */
export const AIM_S3_CONCURRENCY = 24;

export async function writeAimConfig(ctx, s3Prefix) {
  let yaml = `# written by bench/run.mjs\nrepositories:\n  bench:\n    type: local\n    path: ${ctx.aimRepo}\n`;
  yaml += `  shapes:\n    type: local\n    path: ${ctx.shapeRepo}\n`;
  if (ctx.s3) yaml += `  benchs3:\n    type: s3\n    path: s3://${ctx.s3.bucket}/${s3Prefix}\n    endpoint: ${ctx.s3.endpoint}\n    region: us-east-1\n    concurrency: ${AIM_S3_CONCURRENCY}\n`;
  await writeFile(ctx.configPath, yaml);
}

export function aim(ctx, args, { dropCaches = false } = {}) {
  return timed(process.execPath, [ctx.cli, ...args, '--json', '--quiet'], { env: aimEnv(ctx), dropCaches });
}

/** server: the S3 server the operation talks to, whose CPU time its log line shows. */
export async function aimOp(ctx, rec, key, label, args, { bytes, repo, group = 'aim (local folder)', server, dropCaches }) {
  await guard(rec, key, label, group, async () => {
    const before = repo ? duBytes(repo) : undefined;
    const [r, serverSeconds] = await withServerCpu(server, async () => check(await aim(ctx, args, { dropCaches }), label));
    const logical = typeof bytes === 'function' ? bytes(r.json) : bytes;
    const added = repo ? duBytes(repo) - before : undefined;
    rec.add(key, label, group, { bytes: logical, wall: r.wall, sync: r.sync, rssKiB: r.rssKiB, internal: r.json?.seconds, added, files: r.json?.files });
    log(label, r, logical, serverSeconds);
  });
}

const RE_PUSHES_A_ROUND = 3;

export async function aimLocalRound(ctx, rec, data, round = 1) {
  const repo = ctx.aimRepo;
  await rm(repo, { recursive: true, force: true });
  await mkdir(repo, { recursive: true });
  const pushed = (j) => j?.totalBytes ?? data.v1.bytes;
  await aimOp(ctx, rec, 'aim.push.v1', 'aim push v1 (empty repo)', ['model', 'push', 'bench', 'm', data.v1.dir, '--tag', 'v1'], { bytes: pushed, repo });
  // The packs v1's push wrote hold v1's chunks and nothing else: what a pull of v1 reads.
  const v1Packs = await packFiles(repo);
  await aimOp(ctx, rec, 'aim.push.v2', 'aim push v2 (after v1)', ['model', 'push', 'bench', 'm', data.v2.dir, '--tag', 'v2'], { bytes: pushed, repo });
  await aimOp(ctx, rec, 'aim.push.ins', 'aim push ins (after v1, v2)', ['model', 'push', 'bench', 'm', data.ins.dir, '--tag', 'ins'], { bytes: pushed, repo });
  // A few samples a round: a re-push takes a fifth of a second, where the machine's noise is tens of milliseconds.
  for (let i = 1; i <= RE_PUSHES_A_ROUND; i++) {
    await aimOp(ctx, rec, 'aim.push.same', 'aim re-push v1 (unchanged)', ['model', 'push', 'bench', 'm', data.v1.dir, '--tag', `v1-again-${i}`], { bytes: pushed, repo });
  }
  await aimOp(ctx, rec, 'aim.push.small', 'aim push small files', ['model', 'push', 'bench', 'small', data.small.dir, '--tag', 'v1'], { bytes: (j) => j?.totalBytes ?? data.smallBytes, repo });
  const dest = join(ctx.work, 'aim-dest');
  await rm(dest, { recursive: true, force: true });
  const pulled = (j) => j?.totalBytes ?? data.v1.bytes;
  await aimOp(ctx, rec, 'aim.pull.cold', 'aim pull v1 (empty dest)', ['model', 'pull', 'bench', 'm', dest, '--tag', 'v1'], { bytes: pulled });
  await aimOp(ctx, rec, 'aim.pull.update', 'aim pull v2 (dest holds v1)', ['model', 'pull', 'bench', 'm', dest, '--tag', 'v2'], { bytes: pulled });
  await rm(dest, { recursive: true, force: true });
  // The protocol: the page cache emptied before the command (as `cp.dropped`). The pull and the copy of its
  // packs take turns going first: on a virtual disk, whichever follows the other's gigabyte of writes ran up to 0.6 s
  // slower (docs/benchmarks.md, "Session 21").
  const pullDropped = async () => {
    await aimOp(ctx, rec, 'aim.pull.dropped', 'aim pull v1 (empty dest, page cache dropped)', ['model', 'pull', 'bench', 'm', dest, '--tag', 'v1'], { bytes: pulled, dropCaches: true });
    await rm(dest, { recursive: true, force: true });
  };
  for (const step of round % 2 === 1 ? [pullDropped, () => copyPacksOnce(rec, v1Packs, dest)] : [() => copyPacksOnce(rec, v1Packs, dest), pullDropped]) await step();
  await aimOp(ctx, rec, 'aim.verify', 'aim verify (all versions)', ['verify', 'bench'], { bytes: (j) => j?.bytesChecked ?? duBytes(repo) });
  // The protocol, as restic's `check --read-data` gets it too: nothing of either repository in the page cache.
  await aimOp(ctx, rec, 'aim.verify.dropped', 'aim verify (all versions, page cache dropped)', ['verify', 'bench'], { bytes: (j) => j?.bytesChecked ?? duBytes(repo), dropCaches: true });
  // The first push again, into a new repository, from a source the page cache does not hold (as `cp.cold` copies
  // it): a model copied in from elsewhere is read from the disk.
  await rm(repo, { recursive: true, force: true });
  await mkdir(repo, { recursive: true });
  const cold = join(ctx.work, 'v1-uncached');
  uncachedCopy(data.v1.dir, cold);
  await aimOp(ctx, rec, 'aim.push.cold', 'aim push v1 (empty repo, source not cached)', ['model', 'push', 'bench', 'm', cold, '--tag', 'v1'], { bytes: pushed, repo });
  await rm(cold, { recursive: true, force: true });
  // What the disk gives a pull's reads: the packs of a push just made, read alone, as a pull finds them; beside
  // `cp v1 && sync`, which only writes, it tells whether a pull waits on the disk or on itself.
  const label = 'read the packs of that push alone (cat)';
  await guard(rec, 'disk.read.packs', label, 'aim (local folder)', async () => {
    const packs = join(repo, 'packs');
    const r = check(await timed('sh', ['-c', `find "${packs}" -type f -exec cat {} + > /dev/null`]), label);
    const bytes = duBytes(packs);
    rec.add('disk.read.packs', label, 'aim (local folder)', { bytes, wall: r.wall, sync: r.sync, rssKiB: r.rssKiB });
    log(label, r, bytes);
  });
  await dropLongBefore(repo);
}

/**
 * The least any pull of v1 must do, done by the plainest tools under the same protocol: the packs v1's push wrote
 * (`packs`: v1's chunks and nothing else), copied into one file (`cat` && sync) right after sync and drop_caches. The
 * same bytes read from the same place and written once, so the pull's share of it is what is left between aim and
 * the disk.
 */
async function copyPacksOnce(rec, packs, dest) {
  const label = 'copy the packs a pull reads into one file (cat && sync, page cache dropped)';
  await guard(rec, 'disk.copy.packs', label, 'aim (local folder)', async () => {
    await mkdir(dest, { recursive: true });
    const r = check(await timed('sh', ['-c', 'out=$1; shift; cat "$@" > "$out" && sync', 'sh', join(dest, 'packs.bin'), ...packs], { dropCaches: true }), label);
    const bytes = packs.reduce((sum, path) => sum + statSync(path).size, 0);
    rec.add('disk.copy.packs', label, 'aim (local folder)', { bytes, wall: r.wall, sync: r.sync, rssKiB: r.rssKiB });
    log(label, r, bytes);
    await rm(dest, { recursive: true, force: true });
  });
}

/** Every pack file of the folder repository at `repo`, in name order. */
async function packFiles(repo) {
  const entries = await readdir(join(repo, 'packs'), { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name)).sort();
}

/**
 * Deletes a repository at the end of its round, not just before the next round's first push: ext4 skips inodes
 * deleted in the last few seconds when it creates files (recently_deleted), and walking past thousands of them cost
 * the next timed push a quarter of a second (perf, 2 GiB = 1870 chunk files). Deleted here, they are old by then.
 */
async function dropLongBefore(folder) {
  await rm(folder, { recursive: true, force: true });
}

export function resticEnv(ctx) {
  return { ...process.env, RESTIC_PASSWORD: 'aim-bench', RESTIC_CACHE_DIR: join(ctx.work, 'restic-cache'), RESTIC_PROGRESS_FPS: '0.1' };
}

export async function resticRound(ctx, rec, data) {
  const group = 'restic 0.14 (local repo)';
  if (!have('restic')) {
    for (const [k, l] of [['restic.backup.v1', 'restic backup v1'], ['restic.restore', 'restic restore v1'], ['restic.check', 'restic check --read-data']]) rec.na(k, l, group, 'n/a: restic is not installed');
    return;
  }
  const repo = join(ctx.work, 'restic-repo');
  const env = resticEnv(ctx);
  await rm(repo, { recursive: true, force: true });
  await rm(join(ctx.work, 'restic-cache'), { recursive: true, force: true });
  const init = run('restic', ['-r', repo, 'init'], { env });
  if (init.status !== 0) return rec.na('restic.backup.v1', 'restic backup v1', group, `error: restic init: ${init.stderr.trim().split('\n')[0]}`);
  const snapshots = {};
  const backup = async (key, label, variant, bytes) => guard(rec, key, label, group, async () => {
    const before = duBytes(repo);
    const r = check(await timed('restic', ['-r', repo, 'backup', '--json', variant], { env }), label);
    const summary = r.stdout.trim().split('\n').map((l) => { try { return JSON.parse(l); } catch { return {}; } }).find((j) => j.message_type === 'summary');
    snapshots[key] = summary?.snapshot_id;
    rec.add(key, label, group, { bytes, wall: r.wall, sync: r.sync, rssKiB: r.rssKiB, added: duBytes(repo) - before });
    log(label, r, bytes);
  });
  await backup('restic.backup.v1', 'restic backup v1 (empty repo)', data.v1.dir, data.v1.bytes);
  await backup('restic.backup.v2', 'restic backup v2 (after v1)', data.v2.dir, data.v2.bytes);
  await backup('restic.backup.ins', 'restic backup ins (after v1, v2)', data.ins.dir, data.ins.bytes);
  await backup('restic.backup.same', 'restic re-backup v1 (unchanged)', data.v1.dir, data.v1.bytes);
  await backup('restic.backup.small', 'restic backup small files', data.small.dir, data.smallBytes);
  const dest = join(ctx.work, 'restic-dest');
  await rm(dest, { recursive: true, force: true });
  // Each right after the backups, with the repository they wrote still in the page cache; and under the issue's
  // protocol, the page cache dropped before the command (as aim's `aim.pull.dropped` and `aim.verify.dropped`).
  for (const dropCaches of [false, true]) {
    const [suffix, note] = dropCaches ? ['.dropped', ', page cache dropped'] : ['', ''];
    const restore = `restic restore v1 (empty dest${note})`;
    await guard(rec, `restic.restore${suffix}`, restore, group, async () => {
      const r = check(await timed('restic', ['-r', repo, 'restore', snapshots['restic.backup.v1'] ?? 'latest', '--target', dest], { env, dropCaches }), 'restic restore');
      rec.add(`restic.restore${suffix}`, restore, group, { bytes: data.v1.bytes, wall: r.wall, sync: r.sync, rssKiB: r.rssKiB });
      log(restore, r, data.v1.bytes);
    });
    await rm(dest, { recursive: true, force: true });
    const checkLabel = `restic check --read-data${dropCaches ? ' (page cache dropped)' : ''}`;
    await guard(rec, `restic.check${suffix}`, checkLabel, group, async () => {
      const bytes = duBytes(repo);
      const r = check(await timed('restic', ['-r', repo, 'check', '--read-data'], { env, dropCaches }), 'restic check');
      rec.add(`restic.check${suffix}`, checkLabel, group, { bytes, wall: r.wall, sync: r.sync, rssKiB: r.rssKiB });
      log(checkLabel, r, bytes);
    });
  }
  await dropLongBefore(repo);
}

export async function toolsRound(ctx, rec, data) {
  const group = 'plain tools (local)';
  const dest = join(ctx.work, 'tools-dest');
  const one = async (key, label, tool, cmd, args, bytes, { dropCaches = false } = {}) => {
    if (!have(tool)) return rec.na(key, label, group, `n/a: ${tool} is not installed`);
    await rm(dest, { recursive: true, force: true });
    await mkdir(dest, { recursive: true });
    await guard(rec, key, label, group, async () => {
      const r = check(await timed(cmd, args, { dropCaches }), label);
      rec.add(key, label, group, { bytes, wall: r.wall, sync: r.sync, rssKiB: r.rssKiB });
      log(label, r, bytes);
    });
  };
  await one('rclone.copy', 'rclone copy v1 (local→local)', 'rclone', 'rclone', ['copy', data.v1.dir, dest], data.v1.bytes);
  await one('cp.sync', 'cp v1 && sync', 'cp', 'sh', ['-c', `cp "${data.v1.file}" "${dest}/" && sync`], data.v1.bytes);
  await one('b3sum', 'b3sum v1', 'b3sum', 'b3sum', [data.v1.file], data.v1.bytes);
  // The protocol ("cold cache, sync after each"), as `aim.pull.dropped` meets it.
  await one('cp.dropped', 'cp v1 (page cache dropped) && sync', 'cp', 'sh', ['-c', `cp "${data.v1.file}" "${dest}/" && sync`], data.v1.bytes, { dropCaches: true });
  // cp as aim's pull meets it: the bytes come from the disk (a pull reads packs its push just wrote around the page
  // cache), not from memory as in the row above.
  const cold = join(ctx.work, 'v1-uncached');
  uncachedCopy(data.v1.dir, cold);
  await one('cp.cold', 'cp v1 (source not cached) && sync', 'cp', 'sh', ['-c', `cp "${join(cold, 'model.bin')}" "${dest}/" && sync`], data.v1.bytes);
  await rm(cold, { recursive: true, force: true });
  await rm(dest, { recursive: true, force: true });
}

export async function startupTimes(ctx, rec, runs) {
  const group = 'start-up (wall, median)';
  for (const [key, label, args] of [['start.version', 'aim --version', ['--version']], ['start.repolist', 'aim repo list', ['repo', 'list']], ['start.ps', 'aim ps', ['ps']]]) {
    const first = await timed(process.execPath, [ctx.cli, ...args], { env: aimEnv(ctx), durable: false });
    if (!first.ok) {
      const text = `${first.stderr}${first.stdout}`.replace(/\x1b\[[0-9;]*m/g, '');
      rec.na(key, label, group, /Command not found|Unknown Syntax/i.test(text) ? `n/a: \`${label}\` does not exist yet` : `error: ${text.trim().split('\n')[0]}`);
      console.log(`    ${label}: not available`);
      continue;
    }
    for (let i = 0; i < runs; i++) {
      const r = await timed(process.execPath, [ctx.cli, ...args], { env: aimEnv(ctx), durable: false });
      rec.add(key, label, group, { bytes: 0, wall: r.wall, sync: r.sync, rssKiB: r.rssKiB });
    }
    const s = rec.summary(key);
    console.log(`    ${label.padEnd(44)} ${(s.wall * 1000).toFixed(0).padStart(5)} ms`);
  }
}

export { existsSync };
