import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkspace, expectUserError, type Workspace } from '../helpers/cli.js';

// A bad value in the environment is one plain line naming the variable, through the real CLI: never a stack trace,
// never a silent default (Node would fire a timer set to 3e9 ms after 1 ms).

let ws: Workspace;
beforeAll(async () => {
  ws = await createWorkspace((dir) => ({ team: { type: 'local', path: `${dir}/store` } }));
});
afterAll(() => ws.cleanup());

describe('settings from the environment, through the CLI', () => {
  it('refuses a bad runtime switch before any command runs', async () => {
    for (const [name, value] of [['AIM_HASH', 'sha1'], ['AIM_CDC', 'threads'], ['AIM_DIRECT_IO', 'maybe']]) {
      const line = expectUserError(await ws.run(['repo', 'list'], { env: { [name!]: value } }));
      expect(line).toContain(`${name}="${value}"`);
    }
  });

  it('refuses an S3 timeout past what a Node timer can wait, naming the variable', async () => {
    const s3 = await createWorkspace({ bucket: { type: 's3', path: 's3://aim-settings-test/x', endpoint: 'http://127.0.0.1:9', region: 'us-east-1' } });
    try {
      const result = await s3.run(['model', 'list', 'bucket'], { env: { AIM_S3_REQUEST_TIMEOUT_MS: '3000000000' } });
      expect(expectUserError(result)).toContain('AIM_S3_REQUEST_TIMEOUT_MS="3000000000" must be a whole number from 1 to 2147483647');
    } finally {
      await s3.cleanup();
    }
  });

  it('accepts the documented values', async () => {
    const result = await ws.run(['repo', 'list', '--json'], { env: { AIM_HASH: 'wasm', AIM_CDC: 'inline', AIM_DIRECT_IO: '0' } });
    expect(result.code).toBe(0);
  });
});
