// The S3 servers every S3 test runs against: the suite's s3rver, and the real Ceph radosgw that test/global-setup.ts
// started (absent only outside CI on a machine without Ceph's packages). Both accept the keys in S3RVER_ENV.
import { inject } from 'vitest';

export interface S3ServerUnderTest {
  name: 's3rver' | 'radosgw';
  endpoint: string;
  bucket: string;
}

export function s3Servers(): S3ServerUnderTest[] {
  const radosgw = inject('radosgw');
  return [{ name: 's3rver', ...inject('s3') }, ...(radosgw ? [{ name: 'radosgw' as const, ...radosgw }] : [])];
}
