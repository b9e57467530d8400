import { execFileSync } from 'node:child_process';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { closedPort } from '../helpers/fault-proxy.js';
import { KamiwazaContractServer } from '../helpers/kamiwaza-contract-server.js';
import { createWorkspace, type Workspace } from '../helpers/cli.js';
import { S3RVER_ENV } from '../helpers/s3-server.js';

// `aim doctor` through the real CLI: each finding a user can meet (a broken config, an unreachable repository,
// missing S3 credentials, a full disk, leftover partial downloads, an unreachable Kamiwaza), each one line with a
// status and a hint, the same in --json, and a non-zero exit exactly when a check fails.

interface Finding { check: string; status: 'ok' | 'warn' | 'fail'; message: string; hint?: string }
interface Report { ok: boolean; findings: Finding[] }

const NO_CREDENTIALS = {
  AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_SESSION_TOKEN: '', AWS_PROFILE: '',
  AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials', AWS_CONFIG_FILE: '/nonexistent/config', AWS_EC2_METADATA_DISABLED: 'true',
};
const NO_KAMIWAZA = { KAMIWAZA_BASE_URL: '', KAMIWAZA_BASE_URI: '', KAMIWAZA_API_URL: '' };
const FAST_S3 = { AIM_S3_MAX_ATTEMPTS: '1', AIM_S3_CONNECT_TIMEOUT_MS: '2000', AIM_S3_REQUEST_TIMEOUT_MS: '5000' };

async function doctor(ws: Workspace, args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; report: Report; human: string }> {
  const json = await ws.run(['doctor', '--skip-engine', '--json', ...args], { env: { ...NO_KAMIWAZA, ...env } });
  const human = await ws.run(['doctor', '--skip-engine', ...args], { env: { ...NO_KAMIWAZA, ...env } });
  expect(human.code).toBe(json.code);
  expect(human.stderr).not.toMatch(/^\s+at /m);
  return { code: json.code, report: JSON.parse(json.stdout) as Report, human: human.stdout };
}

const finding = (report: Report, check: string): Finding => {
  const found = report.findings.find((f) => f.check === check);
  if (!found) throw new Error(`no finding ${check} in ${JSON.stringify(report.findings)}`);
  return found;
};

/** The finding's line in the human output: status first, then the check, the message and the hint. */
function expectLine(human: string, status: string, check: string, message: RegExp): void {
  const line = human.split('\n').find((l) => l.startsWith(status) && l.includes(` ${check} `));
  expect(line, human).toBeDefined();
  expect(line).toMatch(message);
}

let ws: Workspace;
beforeAll(async () => {
  ws = await createWorkspace((dir) => ({ team: { type: 'local', path: join(dir, 'store') } }));
});
afterAll(() => ws.cleanup());

describe('aim doctor', () => {
  it('passes on a healthy setup, every check ok', async () => {
    const { code, report, human } = await doctor(ws);
    expect(code).toBe(0);
    expect(report.ok).toBe(true);
    for (const check of ['config', 'settings', 'repo team reachable', 'repo team writable', 'repo team format', 'AIM_HOME writable', 'AIM_HOME free space', 'partial downloads']) {
      expect(finding(report, check).status, check).toBe('ok');
    }
    expect(human.split('\n').every((line) => /^(ok|WARN|FAIL) /.test(line) || line === '')).toBe(true);
  });

  it('fails on a broken config, naming the file and the line', async () => {
    const broken = ws.path('broken.yaml');
    await writeFile(broken, 'repositories:\n  team: [unclosed\n');
    const { code, report, human } = await doctor(ws, ['--config', broken]);
    expect(code).not.toBe(0);
    expect(code).not.toBe(70);
    expect(finding(report, 'config')).toMatchObject({ status: 'fail', message: expect.stringContaining(broken), hint: expect.any(String) });
    expectLine(human, 'FAIL', 'config', /broken\.yaml:\d+:\d+: malformed YAML.*\(fix: /);
  });

  it('fails on a bad value in the aim: section', async () => {
    const bad = ws.path('bad-setting.yaml');
    await writeFile(bad, 'aim:\n  serve:\n    ctx-size: huge\n');
    const { code, report } = await doctor(ws, ['--config', bad]);
    expect(code).not.toBe(0);
    expect(finding(report, 'settings')).toMatchObject({ status: 'fail', message: expect.stringContaining('aim.serve.ctx-size') });
  });

  it('fails on a friendly name under models: that run and install would refuse', async () => {
    const bad = ws.path('bad-names.yaml');
    await writeFile(bad, `repositories:\n  team: {type: local, path: ${ws.path('store')}}\nmodels:\n  good: team/tiny:v1\n  typo: "not a reference"\n`);
    const { code, report, human } = await doctor(ws, ['--config', bad]);
    expect(code).toBe(1);
    expect(finding(report, 'friendly names')).toMatchObject({ status: 'fail', message: expect.stringContaining('models.typo') });
    expectLine(human, 'FAIL', 'friendly names', /models\.typo: "not a reference"/);
    const fixed = ws.path('good-names.yaml');
    await writeFile(fixed, `repositories:\n  team: {type: local, path: ${ws.path('store')}}\nmodels:\n  good: team/tiny:v1\n`);
    expect(finding((await doctor(ws, ['--config', fixed])).report, 'friendly names').status).toBe('ok');
  });

  it('fails on an unreachable repository and still checks the rest', async () => {
    const config = ws.path('unreachable.yaml');
    await writeFile(config, `repositories:\n  gone: {type: local, path: ${ws.path('no-such-folder')}}\n  team: {type: local, path: ${ws.path('store')}}\n` +
      `  down: {type: s3, path: s3://bucket/x, endpoint: 'http://127.0.0.1:${await closedPort()}', region: us-east-1}\n`);
    const { code, report, human } = await doctor(ws, ['--config', config], { ...S3RVER_ENV, ...FAST_S3 });
    expect(code).not.toBe(0);
    expect(finding(report, 'repo gone reachable')).toMatchObject({ status: 'fail', message: expect.stringContaining('does not exist'), hint: expect.stringContaining('mkdir') });
    expect(finding(report, 'repo down reachable').status).toBe('fail');
    expect(finding(report, 'repo down credentials').status).toBe('ok');
    expect(finding(report, 'repo team writable').status).toBe('ok');
    expectLine(human, 'FAIL', 'repo gone reachable', /no-such-folder does not exist \(fix: create it/);
  });

  it('reports a repository whose aim-repo.json is a FIFO or garbage without hanging on it', async () => {
    await mkdir(ws.path('fifo-store'));
    execFileSync('mkfifo', [ws.path('fifo-store', 'aim-repo.json')]);
    await mkdir(ws.path('junk-store'));
    await writeFile(ws.path('junk-store', 'aim-repo.json'), '{"format": 99, "hash": "md5"}');
    const config = ws.path('hostile.yaml');
    await writeFile(config, `repositories:\n  fifo: {type: local, path: ./fifo-store}\n  junk: {type: local, path: ./junk-store}\n`);
    const { code, report } = await doctor(ws, ['--config', config]);
    expect(code).not.toBe(0);
    expect(finding(report, 'repo fifo format')).toMatchObject({ status: 'fail', message: expect.stringMatching(/aim-repo\.json/) });
    expect(finding(report, 'repo junk format')).toMatchObject({ status: 'fail', message: expect.stringMatching(/aim-repo\.json|format/) });
  });

  it('fails on missing S3 credentials, saying how to provide them', async () => {
    const server = inject('s3');
    const config = ws.path('s3.yaml');
    await writeFile(config, `repositories:\n  bucket: {type: s3, path: 's3://${server.bucket}/doctor', endpoint: '${server.endpoint}', region: us-east-1}\n`);
    const missing = await doctor(ws, ['--config', config], { ...NO_CREDENTIALS, ...FAST_S3 });
    expect(missing.code).not.toBe(0);
    expect(finding(missing.report, 'repo bucket credentials')).toMatchObject({ status: 'fail', hint: expect.stringContaining('AWS_ACCESS_KEY_ID') });

    // With the keys, the same repository passes every check, the clock against the server's Date header included.
    const present = await doctor(ws, ['--config', config], { ...S3RVER_ENV, ...FAST_S3 });
    expect(present.report.findings.filter((f) => f.check.startsWith('repo bucket')).map((f) => [f.check, f.status])).toEqual([
      ['repo bucket credentials', 'ok'], ['repo bucket clock', 'ok'], ['repo bucket reachable', 'ok'], ['repo bucket writable', 'ok'], ['repo bucket format', 'ok'],
    ]);
  });

  it('fails when AIM_HOME has no room, warns when it is short', async () => {
    const full = await doctor(ws, [], { AIM_TEST_FREE_BYTES: String(200 * 1024 * 1024) });
    expect(full.code).not.toBe(0);
    expect(finding(full.report, 'AIM_HOME free space')).toMatchObject({ status: 'fail', message: expect.stringMatching(/only 0\.2 GiB free/) });
    const short = await doctor(ws, [], { AIM_TEST_FREE_BYTES: String(5 * 1024 ** 3) });
    expect(short.code).toBe(0);
    expect(finding(short.report, 'AIM_HOME free space').status).toBe('warn');
  });

  it('fails when AIM_HOME cannot be created', async () => {
    await writeFile(ws.path('a-file'), 'not a folder');
    const { code, report } = await doctor(ws, [], { AIM_HOME: ws.path('a-file', 'aim') });
    expect(code).not.toBe(0);
    expect(finding(report, 'AIM_HOME writable')).toMatchObject({ status: 'fail', message: expect.stringContaining('is not a writable folder') });
  });

  it('reports leftover partial downloads and their size, without following links', async () => {
    const version = join(ws.home, 'models', 'team', 'tiny', 'a'.repeat(64));
    await mkdir(join(version, '.aim', 'partial'), { recursive: true });
    await writeFile(join(version, '.aim', 'partial', 'model.gguf.partial'), Buffer.alloc(3 * 1024 * 1024));
    await writeFile(join(version, '.aim', 'partial', 'model.gguf.journal'), '{"chunksDone":1}');
    const dest = ws.path('pulled');
    await mkdir(join(dest, '.aim', 'partial'), { recursive: true });
    await writeFile(join(dest, '.aim', 'partial', 'weights.bin.partial'), Buffer.alloc(1024 * 1024));
    // A link to a big file elsewhere is not counted: doctor never follows a link it did not make.
    await writeFile(ws.path('elsewhere.bin'), Buffer.alloc(5 * 1024 * 1024));
    await symlink(ws.path('elsewhere.bin'), join(dest, '.aim', 'partial', 'planted.partial'));

    const { code, report } = await doctor(ws, [dest]);
    expect(code).toBe(0); // leftovers are a warning: nothing is broken
    const leftovers = finding(report, 'partial downloads');
    expect(leftovers.status).toBe('warn');
    expect(leftovers.message).toMatch(/^3 leftover file\(s\), 4\.0 MiB, in /);
    expect(leftovers.message).toContain(version);
    expect(leftovers.message).toContain(dest);
    expect(leftovers.hint).toMatch(/resume/);
  });

  it('fails when the configured Kamiwaza server does not answer', async () => {
    const { code, report } = await doctor(ws, [], { KAMIWAZA_BASE_URL: `http://127.0.0.1:${await closedPort()}`, AIM_KAMIWAZA_REQUEST_TIMEOUT_MS: '3000' });
    expect(code).not.toBe(0);
    expect(finding(report, 'kamiwaza')).toMatchObject({ status: 'fail', hint: expect.any(String) });

    const server = new KamiwazaContractServer();
    try {
      const url = (await server.start()).replace(/\/api$/, '');
      const answering = await doctor(ws, [], { KAMIWAZA_BASE_URL: url, KAMIWAZA_API_KEY: 'test-token' });
      expect(finding(answering.report, 'kamiwaza')).toMatchObject({ status: 'ok', message: expect.stringContaining(url) });
      expect(server.violations).toEqual([]);
    } finally {
      await server.close();
    }
  });
});

describe('aim doctor, the embedded engine', () => {
  it("loads llama.cpp's binding in a child process", async () => {
    const result = await ws.run(['doctor', '--json'], { env: NO_KAMIWAZA });
    expect(JSON.parse(result.stdout).findings.find((f: Finding) => f.check === 'embedded engine')).toMatchObject({ status: 'ok' });
  });
});
