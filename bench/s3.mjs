// Starts s3rver the way the tests do: the project's launcher (test/helpers/s3rver-launcher.mjs) in a child process
// under `node --openssl-legacy-provider`, on 127.0.0.1 and a free port, storing into a folder in the work dir.
import { mkdir, rm } from 'node:fs/promises';
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
