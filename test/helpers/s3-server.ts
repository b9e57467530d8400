// A real S3-compatible server for tests: s3rver 3.7.1 in a child process (see s3rver-launcher.mjs for why a child
// process and the legacy OpenSSL provider), on 127.0.0.1, a random free port and a temporary folder.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3RVER_ENV, startS3rverProcess } from './s3rver-process.mjs';

export { S3RVER_ENV };

export interface S3TestServer {
  endpoint: string;
  bucket: string;
  stop(): Promise<void>;
}

/** Points this process's AWS SDK credential chain at the test server's keys. */
export function useS3rverCredentials(): void {
  delete process.env.AWS_PROFILE;
  delete process.env.AWS_SESSION_TOKEN;
  Object.assign(process.env, S3RVER_ENV);
}

export async function startS3Server(bucket = 'aim-test'): Promise<S3TestServer> {
  const directory = await mkdtemp(join(tmpdir(), 'aim-s3rver-'));
  const server = await startS3rverProcess(directory, bucket);
  return {
    endpoint: server.endpoint,
    bucket,
    async stop() {
      await server.stop();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
