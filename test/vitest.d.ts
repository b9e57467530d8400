// Values test/global-setup.ts provides to every test file through `inject(...)`.
import 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The suite's one s3rver: its http://127.0.0.1:PORT endpoint and a bucket that exists. */
    s3: { endpoint: string; bucket: string };
    /** The suite's real Ceph radosgw (same keys as s3rver); undefined only outside CI without Ceph installed. */
    radosgw: { endpoint: string; bucket: string } | undefined;
  }
}
