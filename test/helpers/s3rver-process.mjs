// Starts s3rver through s3rver-launcher.mjs in a child process under `node --openssl-legacy-provider`, on 127.0.0.1
// and a free port, storing into `directory`. Shared by the test setup (s3-server.ts) and the benchmark (bench/s3.mjs)
// so both run the server the same way. Plain JavaScript so the benchmark can import it without a build.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** s3rver's fixed keys (it accepts any signature, but the SDK needs credentials to sign with), and nothing else. */
export const S3RVER_ENV = Object.freeze({
  AWS_ACCESS_KEY_ID: 'S3RVER',
  AWS_SECRET_ACCESS_KEY: 'S3RVER',
  AWS_REGION: 'us-east-1',
  // Nothing on the machine (a profile, an instance role) may leak into the credential chain.
  AWS_EC2_METADATA_DISABLED: 'true',
  AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aim-s3rver-credentials',
  AWS_CONFIG_FILE: '/nonexistent/aim-s3rver-config',
});

const launcher = fileURLToPath(new URL('./s3rver-launcher.mjs', import.meta.url));

export async function startS3rverProcess(directory, bucket) {
  const child = spawn(process.execPath, ['--openssl-legacy-provider', '--single-threaded-gc', launcher, directory, bucket], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk.toString()));
  let stopping = false;
  const exited = new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      // Every S3 test after this fails with "connection refused": say why, once, where the run's output shows it.
      if (!stopping) console.error(`s3rver (pid ${child.pid}) exited unexpectedly: code ${code}, signal ${signal}; its stderr ended: ${stderr.trim().split('\n').slice(-5).join(' | ')}`);
      resolve(code);
    }),
  );
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`s3rver did not start within 20 s: ${stderr}`)), 20_000);
    createInterface({ input: child.stdout }).once('line', (line) => {
      clearTimeout(timer);
      resolve(JSON.parse(line).port);
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`s3rver exited with code ${code} before starting: ${stderr.trim().split('\n')[0]}`));
    });
  });
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    pid: child.pid,
    /** Stops the server (SIGTERM, then SIGKILL after 5 s); the caller removes `directory`. */
    async stop() {
      stopping = true;
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}
