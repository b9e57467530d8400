// Global setup for the whole suite: checks the CLI was built and starts the S3 servers every test file reaches
// through `inject(...)`: ONE s3rver (in a child process) and ONE real Ceph radosgw (scripts/radosgw/start.sh); each
// test uses its own key prefix in the bucket. In CI radosgw must start: a machine where it cannot fails the run
// rather than quietly testing against s3rver alone. Elsewhere a missing Ceph install only skips the radosgw runs.
import { existsSync } from 'node:fs';
import type { TestProject } from 'vitest/node';
import { startRadosgw } from './helpers/radosgw.js';
import { type S3TestServer, startS3Server } from './helpers/s3-server.js';

async function startRadosgwIfPossible(): Promise<S3TestServer | undefined> {
  try {
    return await startRadosgw('aim-test');
  } catch (error) {
    if (process.env.CI === 'true') throw error;
    console.warn(`${(error as Error).message}\n(the S3 tests run against s3rver only; CI=true makes this an error)`);
    return undefined;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (!existsSync(new URL('../dist/bundle/aim.js', import.meta.url))) {
    throw new Error('dist/bundle/aim.js is missing: run `npm test` (it builds first) or `npm run build`');
  }
  const starting = [startS3Server('aim-test'), startRadosgwIfPossible()] as const;
  const [server, radosgw] = await Promise.allSettled(starting);
  if (server.status === 'rejected' || radosgw.status === 'rejected') {
    if (server.status === 'fulfilled') await server.value.stop();
    if (radosgw.status === 'fulfilled') await radosgw.value?.stop();
    throw server.status === 'rejected' ? server.reason : (radosgw as PromiseRejectedResult).reason;
  }
  const s3rver = server.value;
  const rgw = radosgw.value;
  project.provide('s3', { endpoint: s3rver.endpoint, bucket: s3rver.bucket });
  project.provide('radosgw', rgw && { endpoint: rgw.endpoint, bucket: rgw.bucket });
  return async () => {
    await Promise.all([s3rver.stop(), rgw?.stop()]);
  };
}
