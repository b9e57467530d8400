// The S3 rows, once per server (s3rver, and a real Ceph radosgw): aim push and pull against rclone copy up and down
// of the same v1 folder. rclone moves as many files at once as aim moves chunks (--transfers = aim's concurrency)
// and keeps its default --multi-thread-streams for the download.
import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { check, have, run, timed } from './lib.mjs';
import { rcloneS3Env } from './s3.mjs';
import { startRadosgw as startScaleRadosgw } from './scale-lib.mjs';
import { aim, AIM_S3_CONCURRENCY, aimOp, guard, log, withServerCpu, writeAimConfig } from './suites.mjs';

/** The servers' rows: s3rver keeps the keys of earlier runs, so results stay comparable across sessions. */
export const S3_TARGETS = {
  s3rver: { aim: 'aim.s3', rclone: 'rclone.s3', group: 'S3 (s3rver on 127.0.0.1)' },
  radosgw: { aim: 'aim.rgw', rclone: 'rclone.rgw', group: 'S3 (Ceph radosgw on 127.0.0.1, memstore)' },
};

/**
 * A radosgw through the scale benchmark's starter (scripts/radosgw/start.sh in DIRECTORY/cluster, s3rver's keys),
 * plus `pids`: the monitor, the OSD and the gateway, whose CPU the S3 rows report as the server's.
 */
export async function startRadosgw(directory, bucket = 'aim-bench') {
  // A cluster left by an interrupted run: stop.sh stops the daemons it recorded (only those) and removes it.
  await promisify(execFile)('scripts/radosgw/stop.sh', [join(directory, 'cluster')]).catch(() => undefined);
  const server = await startScaleRadosgw(directory, bucket);
  try {
    const pids = (await readFile(join(directory, 'cluster', 'pids'), 'utf8')).trim().split('\n').map((line) => Number(line.split(' ')[1]));
    return { ...server, pids };
  } catch (error) {
    await server.stop();
    throw error;
  }
}

/** A tiny push to the S3 repository: tells whether the S3 backend works at all before the timed rounds. */
export async function probeS3(ctx, name, server) {
  const dir = join(ctx.work, 's3-probe');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'probe.bin'), Buffer.alloc(100_000, 7));
  ctx.s3 = server;
  await writeAimConfig(ctx, 'probe');
  const r = await aim(ctx, ['model', 'push', 'benchs3', 'probe', dir, '--tag', 'v1']);
  await rm(dir, { recursive: true, force: true });
  check(r, `aim push to ${name}`);
}

function labelsOf(keys) {
  return {
    [`${keys.aim}.push.v1`]: 'aim push v1 → S3 (empty)', [`${keys.aim}.push.v2`]: 'aim push v2 → S3 (after v1)',
    [`${keys.aim}.pull.cold`]: 'aim pull v1 ← S3 (empty dest)', [`${keys.aim}.pull.update`]: 'aim pull v2 ← S3 (dest holds v1)',
    [`${keys.rclone}.up`]: `rclone copy v1 → S3 (--transfers ${AIM_S3_CONCURRENCY})`, [`${keys.rclone}.down`]: `rclone copy v1 ← S3 (--transfers ${AIM_S3_CONCURRENCY})`,
  };
}

/** target: { name (a key of S3_TARGETS), server (undefined when it did not start), reason }. */
export async function s3Round(ctx, rec, data, round, target) {
  const keys = S3_TARGETS[target.name];
  const { group } = keys;
  const labels = labelsOf(keys);
  const server = target.server;
  if (!server) {
    for (const [k, l] of Object.entries(labels)) rec.na(k, l, group, `n/a: ${target.reason}`);
    return;
  }
  ctx.s3 = server;
  await writeAimConfig(ctx, `round-${round}`);
  const bytes = (j) => j?.totalBytes ?? data.v1.bytes;
  const dest = join(ctx.work, 's3-dest');
  // AWS_CA_BUNDLE (set on some machines for a TLS proxy) makes rclone 1.60 fail with LoadCustomCABundleError even
  // for a plain-http endpoint, so rclone gets an environment without it.
  const env = { ...process.env, ...rcloneS3Env(server) };
  delete env.AWS_CA_BUNDLE;
  const remote = `benchs3:${server.bucket}/rclone-${round}`;
  const op = (key, args) => aimOp(ctx, rec, key, labels[key], args, { bytes, group, server });
  const aimRows = async () => {
    await op(`${keys.aim}.push.v1`, ['model', 'push', 'benchs3', 'm', data.v1.dir, '--tag', 'v1']);
    await op(`${keys.aim}.push.v2`, ['model', 'push', 'benchs3', 'm', data.v2.dir, '--tag', 'v2']);
    await rm(dest, { recursive: true, force: true });
    await op(`${keys.aim}.pull.cold`, ['model', 'pull', 'benchs3', 'm', dest, '--tag', 'v1']);
    await op(`${keys.aim}.pull.update`, ['model', 'pull', 'benchs3', 'm', dest, '--tag', 'v2']);
    await rm(dest, { recursive: true, force: true });
  };
  const rcloneRows = async () => {
    const up = `${keys.rclone}.up`;
    const down = `${keys.rclone}.down`;
    if (!have('rclone')) {
      for (const key of [up, down]) rec.na(key, labels[key], group, 'n/a: rclone is not installed');
      return;
    }
    const transfers = ['--transfers', String(AIM_S3_CONCURRENCY)];
    for (const [key, args] of [[up, ['copy', ...transfers, data.v1.dir, remote]], [down, ['copy', ...transfers, remote, dest]]]) {
      await guard(rec, key, labels[key], group, async () => {
        const [r, serverSeconds] = await withServerCpu(server, async () => check(await timed('rclone', args, { env }), labels[key]));
        rec.add(key, labels[key], group, { bytes: data.v1.bytes, wall: r.wall, sync: r.sync, rssKiB: r.rssKiB });
        log(labels[key], r, data.v1.bytes, serverSeconds);
      });
    }
    await rm(dest, { recursive: true, force: true });
  };
  // The tools take turns going first, so neither always meets the server right after the previous round's cleanup.
  for (const rows of round % 2 === 1 ? [aimRows, rcloneRows] : [rcloneRows, aimRows]) await rows();
  // s3rver keeps everything on disk and radosgw's memstore in RAM: drop this round's objects so long runs fit.
  if (have('rclone')) {
    run('rclone', ['purge', remote], { env });
    run('rclone', ['purge', `benchs3:${server.bucket}/round-${round}`], { env });
  }
}
