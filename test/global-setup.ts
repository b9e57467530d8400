// Global setup for the whole suite: checks the CLI was built and starts ONE S3-compatible server (s3rver in a child
// process) that every test file reaches through `inject('s3')`; each test uses its own key prefix in the bucket.
import { existsSync } from 'node:fs';
import type { TestProject } from 'vitest/node';
import { startS3Server } from './helpers/s3-server.js';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (!existsSync(new URL('../dist/bundle/aim.js', import.meta.url))) {
    throw new Error('dist/bundle/aim.js is missing: run `npm test` (it builds first) or `npm run build`');
  }
  const server = await startS3Server('aim-test');
  project.provide('s3', { endpoint: server.endpoint, bucket: server.bucket });
  return () => server.stop();
}
