// A real S3-compatible server for tests: s3rver 3.7.1 in a child process (see s3rver-launcher.mjs for why a child
// process and the legacy OpenSSL provider), on 127.0.0.1, a random free port and a temporary folder.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export interface S3TestServer {
  endpoint: string;
  bucket: string;
  stop(): Promise<void>;
}

/** s3rver's fixed keys; it accepts any signature, but the SDK needs some credentials to sign with. */
export const S3RVER_ENV = {
  AWS_ACCESS_KEY_ID: 'S3RVER',
  AWS_SECRET_ACCESS_KEY: 'S3RVER',
  AWS_REGION: 'us-east-1',
  // Nothing on the test machine (a profile, an instance role) may leak into the credential chain.
  AWS_EC2_METADATA_DISABLED: 'true',
  AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aim-test-credentials',
  AWS_CONFIG_FILE: '/nonexistent/aim-test-config',
} as const;

/** Points this process's AWS SDK credential chain at the test server's keys. */
export function useS3rverCredentials(): void {
  delete process.env.AWS_PROFILE;
  delete process.env.AWS_SESSION_TOKEN;
  Object.assign(process.env, S3RVER_ENV);
}

const launcher = fileURLToPath(new URL('./s3rver-launcher.mjs', import.meta.url));

export async function startS3Server(bucket = 'aim-test'): Promise<S3TestServer> {
  const directory = await mkdtemp(join(tmpdir(), 'aim-s3rver-'));
  const child = spawn(process.execPath, ['--openssl-legacy-provider', launcher, directory, bucket], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`s3rver did not start within 20 s: ${stderr}`)), 20_000);
    createInterface({ input: child.stdout }).once('line', (line) => {
      clearTimeout(timer);
      resolve((JSON.parse(line) as { port: number }).port);
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`s3rver exited with code ${code} before starting: ${stderr}`));
    });
  });
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
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
