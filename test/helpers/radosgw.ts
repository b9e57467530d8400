// A real Ceph radosgw for tests, through the project's own scripts/radosgw/start.sh and stop.sh. It accepts the
// same fixed test keys as s3rver (S3RVER_ENV), so one process can talk to both servers with one credential chain.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { S3RVER_ENV } from './s3rver-process.mjs';
import type { S3TestServer } from './s3-server.js';

const run = promisify(execFile);
const scripts = fileURLToPath(new URL('../../scripts/radosgw/', import.meta.url));

/**
 * Starts radosgw in a new temporary folder; rejects with the script's last words when it cannot. A second try in a
 * fresh folder covers the one race the script cannot rule out: another program taking its port before it binds.
 */
export async function startRadosgw(bucket = 'aim-test'): Promise<S3TestServer> {
  try {
    return await startOnce(bucket);
  } catch {
    return startOnce(bucket);
  }
}

async function startOnce(bucket: string): Promise<S3TestServer> {
  const parent = await mkdtemp(join(tmpdir(), 'aim-radosgw-'));
  const folder = join(parent, 'cluster');
  const env = {
    ...process.env,
    RADOSGW_BUCKET: bucket,
    RADOSGW_ACCESS_KEY: S3RVER_ENV.AWS_ACCESS_KEY_ID,
    RADOSGW_SECRET_KEY: S3RVER_ENV.AWS_SECRET_ACCESS_KEY,
  };
  const stop = async () => {
    await run(join(scripts, 'stop.sh'), [folder]).catch(() => undefined);
    await rm(parent, { recursive: true, force: true });
  };
  try {
    const { stdout } = await run(join(scripts, 'start.sh'), [folder], { env, timeout: 180_000 });
    const endpoint = /^export RADOSGW_ENDPOINT=(\S+)$/m.exec(stdout)?.[1];
    if (!endpoint) throw new Error(`scripts/radosgw/start.sh printed no endpoint:\n${stdout}`);
    return { endpoint, bucket, stop };
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    await stop();
    throw new Error(`radosgw did not start: ${stderr || (error as Error).message}`);
  }
}
