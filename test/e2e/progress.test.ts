import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateModel } from '../../fixtures/generate-model.js';
import { CLI_PATH, createWorkspace, type Workspace } from '../helpers/cli.js';

const run = promisify(execFile);

// Progress goes to stderr: a bar with bytes, rate and ETA on a terminal, plain lines otherwise, nothing with --json
// or --quiet. The terminal case runs the CLI under util-linux `script`, which gives it a real pseudo-terminal.
describe('progress output', () => {
  let ws: Workspace;

  beforeAll(async () => {
    ws = await createWorkspace((dir) => ({ r: { type: 'local', path: `${dir}/repo` } }));
    await generateModel(ws.path('model'), { seed: 'progress', files: [{ path: 'weights.bin', size: 8 * 1024 * 1024 }] });
  });
  afterAll(() => ws.cleanup());

  it('prints plain lines on stderr when not a terminal, and the summary on stdout', async () => {
    const result = await ws.run(['push', 'r/m:plain', 'model']);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/^pushing r\/m:plain: 8\.00 MiB$/m);
    expect(result.stderr).toMatch(/^pushing r\/m:plain: 100% 8\.00 MiB\/8\.00 MiB \S+ \S+\/s$/m);
    expect(result.stdout).toMatch(/r\/m:plain pushed/);
    expect(result.stdout).not.toMatch(/100%/);
  });

  it('prints nothing but the JSON document with --json, and no progress with --quiet', async () => {
    const json = await ws.run(['push', 'r/m:json', 'model', '--json']);
    expect(json.stderr).toBe('');
    expect(JSON.parse(json.stdout).tag).toBe('json');
    const quiet = await ws.run(['pull', 'r/m:json', 'out-quiet', '--quiet']);
    expect(quiet.code).toBe(0);
    expect(quiet.stderr).toBe('');
  });

  it('draws a bar with bytes, rate and ETA on a terminal', async () => {
    const command = `${process.execPath} ${CLI_PATH} pull r/m:json out-tty`;
    const { stdout } = await run('script', ['-qec', command, '/dev/null'], { cwd: ws.dir, env: { ...process.env, ...ws.env, NO_COLOR: '1' } });
    expect(stdout).toMatch(/pulling r\/m@[0-9a-f]{12} \[[^\]]+\] 100% \| 8\.00 MiB\/8\.00 MiB \| \S+ \S+\/s \| ETA \d+s/);
    expect(stdout).toMatch(/r\/m:json pulled into/);
  });
});
