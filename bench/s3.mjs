// Starts the S3 servers the way the tests do: s3rver through the project's launcher (test/helpers/s3rver-launcher.mjs)
// in a child process under `node --openssl-legacy-provider`, and a Ceph radosgw through scripts/radosgw/start.sh
// (objects in RAM), both on 127.0.0.1 and a free port, with the same test keys.
import { execFile } from 'node:child_process';
import { readFile, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { S3RVER_ENV, startS3rverProcess } from '../test/helpers/s3rver-process.mjs';

export const S3_ENV = S3RVER_ENV;

export async function startS3rver(directory, bucket = 'aim-bench') {
  await rm(directory, { recursive: true, force: true });
  await mkdir(directory, { recursive: true });
  const server = await startS3rverProcess(directory, bucket);
  return {
    ...server,
    async stop() {
      await server.stop();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/**
 * Starts a radosgw cluster in `directory` (which must not exist yet or be empty); its stop() stops every daemon
 * start.sh recorded and removes the folder. pids lists the monitor, the OSD and the gateway, whose CPU the S3 rows
 * report as the server's.
 */
export async function startRadosgw(directory, bucket = 'aim-bench') {
  const env = { ...process.env, RADOSGW_BUCKET: bucket, RADOSGW_ACCESS_KEY: S3RVER_ENV.AWS_ACCESS_KEY_ID, RADOSGW_SECRET_KEY: S3RVER_ENV.AWS_SECRET_ACCESS_KEY };
  const stop = () => promisify(execFile)('scripts/radosgw/stop.sh', [directory]).catch(() => undefined);
  // A folder left by an interrupted run: stop.sh stops its daemons (only those it recorded) and removes it.
  await stop();
  await rm(directory, { recursive: true, force: true });
  try {
    const { stdout } = await promisify(execFile)('scripts/radosgw/start.sh', [directory], { env, timeout: 180_000 });
    const endpoint = /^export RADOSGW_ENDPOINT=(\S+)$/m.exec(stdout)?.[1];
    if (!endpoint) throw new Error('scripts/radosgw/start.sh printed no endpoint');
    const pids = (await readFile(join(directory, 'pids'), 'utf8')).trim().split('\n').map((line) => Number(line.split(' ')[1]));
    return { endpoint, bucket, pids, stop };
  } catch (error) {
    await stop();
    const last = (error.stderr ?? '').trim().split('\n').pop();
    throw new Error(`radosgw did not start: ${last || error.message}`);
  }
}

/** rclone remote "benchs3:" configured only through the environment. */
export function rcloneS3Env(server) {
  return {
    RCLONE_CONFIG_BENCHS3_TYPE: 's3',
    RCLONE_CONFIG_BENCHS3_PROVIDER: 'Other',
    RCLONE_CONFIG_BENCHS3_ENDPOINT: server.endpoint,
    RCLONE_CONFIG_BENCHS3_ACCESS_KEY_ID: 'S3RVER',
    RCLONE_CONFIG_BENCHS3_SECRET_ACCESS_KEY: 'S3RVER',
    RCLONE_CONFIG_BENCHS3_REGION: 'us-east-1',
    RCLONE_CONFIG_BENCHS3_FORCE_PATH_STYLE: 'true',
  };
}
