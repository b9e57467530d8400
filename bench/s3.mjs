// Starts s3rver the way the tests do: the project's launcher (test/helpers/s3rver-launcher.mjs) in a child process
// under `node --openssl-legacy-provider`, on 127.0.0.1 and a free port, storing into a folder in the work dir.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';

export const S3_ENV = {
  AWS_ACCESS_KEY_ID: 'S3RVER',
  AWS_SECRET_ACCESS_KEY: 'S3RVER',
  AWS_REGION: 'us-east-1',
  AWS_EC2_METADATA_DISABLED: 'true',
  AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aim-bench-credentials',
  AWS_CONFIG_FILE: '/nonexistent/aim-bench-config',
};

export async function startS3rver(directory, bucket = 'aim-bench') {
  const launcher = resolve('test/helpers/s3rver-launcher.mjs');
  if (!existsSync(launcher)) throw new Error(`${launcher} is missing`);
  if (!existsSync(resolve('node_modules/s3rver'))) throw new Error('s3rver is not installed (npm install)');
  await rm(directory, { recursive: true, force: true });
  await mkdir(directory, { recursive: true });
  const child = spawn(process.execPath, ['--openssl-legacy-provider', launcher, directory, bucket], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((r) => child.once('exit', r));
  const port = await new Promise((resolvePort, reject) => {
    const timer = setTimeout(() => reject(new Error(`s3rver did not start within 20 s: ${stderr}`)), 20_000);
    createInterface({ input: child.stdout }).once('line', (line) => {
      clearTimeout(timer);
      resolvePort(JSON.parse(line).port);
    });
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`s3rver exited (${code}): ${stderr.trim().split('\n')[0]}`));
    });
  });
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    pid: child.pid,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
      await rm(directory, { recursive: true, force: true });
    },
  };
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
