// Values test/global-setup.ts provides to every test file through `inject(...)`.
import 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The suite's one s3rver: its http://127.0.0.1:PORT endpoint and a bucket that exists. */
    s3: { endpoint: string; bucket: string };
  }
}
