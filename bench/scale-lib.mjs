// Helpers of the scale benchmark (bench/scale.mjs): a bounded parallel loop, radosgw started through the project's
// scripts, and one measured aim command (wall time, peak RSS, and what AIM_IO_STATS counted).
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { timed } from './lib.mjs';
import { S3_ENV } from './s3.mjs';

const run = promisify(execFile);

/** Runs `task` on every item, at most `limit` at once; the first failure rejects once the running ones settle. */
export async function forEachLimited(items, limit, task) {
  let next = 0;
  let failure;
  const worker = async () => {
    while (next < items.length && !failure) {
      const item = items[next++];
      try {
        await task(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.error;
}

/** A radosgw (scripts/radosgw/start.sh) in `folder`, with s3rver's fixed test keys; `client` is an AWS SDK client. */
export async function startRadosgw(folder, bucket = 'aim-scale') {
  await rm(folder, { recursive: true, force: true });
  await mkdir(folder, { recursive: true });
  const env = { ...process.env, RADOSGW_BUCKET: bucket, RADOSGW_ACCESS_KEY: S3_ENV.AWS_ACCESS_KEY_ID, RADOSGW_SECRET_KEY: S3_ENV.AWS_SECRET_ACCESS_KEY, RADOSGW_TIMEOUT: '120' };
  const cluster = join(folder, 'cluster');
  const stop = async () => {
    await run('scripts/radosgw/stop.sh', [cluster]).catch(() => undefined);
  };
  try {
    const { stdout } = await run('scripts/radosgw/start.sh', [cluster], { env, timeout: 300_000 });
    const endpoint = /^export RADOSGW_ENDPOINT=(\S+)$/m.exec(stdout)?.[1];
    if (!endpoint) throw new Error(`scripts/radosgw/start.sh printed no endpoint:\n${stdout}`);
    const { S3Client } = await import('@aws-sdk/client-s3');
    const client = new S3Client({
      endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: S3_ENV.AWS_ACCESS_KEY_ID, secretAccessKey: S3_ENV.AWS_SECRET_ACCESS_KEY },
      maxAttempts: 5,
    });
    return { endpoint, bucket, client, stop: async () => { client.destroy(); await stop(); } };
  } catch (error) {
    await stop();
    throw new Error(`radosgw did not start: ${(error.stderr ?? error.message).trim().split('\n').slice(-3).join(' | ')}`);
  }
}

/**
 * Runs `node <cli> <args> --json --quiet` under GNU time with AIM_IO_STATS; returns { wall, rssKiB, io } where io is
 * the counts the command wrote (undefined for a build without AIM_IO_STATS). Throws with the command's error line.
 */
export async function measureAim(cli, args, env, statsDir) {
  await mkdir(statsDir, { recursive: true });
  const statsFile = join(await mkdtemp(join(statsDir, 'io-')), 'io.json');
  const r = await timed(process.execPath, [cli, ...args, '--json', '--quiet'], { env: { ...env, AIM_IO_STATS: statsFile }, durable: false });
  if (!r.ok) {
    const line = (r.stderr || r.stdout).split('\n').find((l) => /error/i.test(l)) ?? r.stderr.slice(0, 300);
    throw new Error(`aim ${args.join(' ')}: exit ${r.code}: ${line}`);
  }
  const io = await readFile(statsFile, 'utf8').then(JSON.parse, () => undefined);
  return { wall: r.wall, rssKiB: r.rssKiB, io, json: r.json };
}

/** The figures the table shows from one command's counts: requests, metadata bytes read (all but packs/). */
export function ioSummary(io, listPageSize = 1000) {
  if (!io) return undefined;
  const calls = Object.values(io.calls).reduce((a, b) => a + b, 0);
  // A listing is one request per page on an object store; the wrapper sees calls and entries, not pages.
  const extraPages = Math.max(0, Math.ceil(io.listedEntries / listPageSize) - (io.calls.list ?? 0));
  const read = io.bytesRead;
  const metadata = Object.entries(read).filter(([prefix]) => prefix !== 'packs/').reduce((a, [, n]) => a + n, 0);
  return {
    requests: calls - (io.calls.sync ?? 0) + extraPages,
    metadataRead: metadata,
    indexRead: read['index/'] ?? 0,
    packsRead: read['packs/'] ?? 0,
    indexWritten: io.bytesWritten['index/'] ?? 0,
    listedEntries: io.listedEntries,
  };
}
