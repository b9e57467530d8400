// The serving side as an attacker sees it: run records in AIM_HOME that lie (a reused pid, garbage, links, FIFOs),
// deployment names that try to leave AIM_HOME, a Kamiwaza server that answers too much, too slowly, in the wrong
// shape or with an endpoint on another host, a `run` interrupted mid-deploy, and clients of the embedded server that
// overflow its context or hang up. Each case runs the real CLI under time and memory bounds and checks effects.
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTinyGgufInto } from '../../fixtures/tiny-gguf.js';
import { isAlive } from '../../src/serving/process-utils.js';
import { createWorkspace, signalWhen, type Workspace } from '../helpers/cli.js';
import { KamiwazaContractServer, type Misbehaviour } from '../helpers/kamiwaza-contract-server.js';
import { expectRefused, expectUnchanged, runBounded, snapshot } from './harness.js';
import { bystander, embeddedRecord, endlessJson, processesMentioning, sendJson, tricklingJson, writeRecord } from './serving-fixtures.js';

const NO_KAMIWAZA = { KAMIWAZA_BASE_URL: '', KAMIWAZA_BASE_URI: '', KAMIWAZA_API_URL: '' };

let ws: Workspace;
beforeAll(async () => {
  ws = await createWorkspace((dir) => ({ team: { type: 'local', path: join(dir, 'store') } }), NO_KAMIWAZA);
  await writeTinyGgufInto(ws.path('src'), { quant: 'q8_0', seed: 7 });
  await ws.json(['push', 'team/tiny:v1', ws.path('src')]);
});
afterAll(async () => {
  await ws.run(['stop', '--all']);
  await ws.cleanup();
});

describe('a recorded pid that now belongs to another process', () => {
  const cases: Array<[string, (id: { pid: number; startTime: string; cmdline: string[] }) => Record<string, unknown>]> = [
    ['another start time', (id) => ({ pid: id.pid, pidStartTime: String(Number(id.startTime) + 1), cmdline: id.cmdline })],
    ['the same start time but another command line', (id) => ({ pid: id.pid, pidStartTime: id.startTime, cmdline: [process.execPath, 'llama-server.js'] })],
    ['no identity at all (pid only)', (id) => ({ pid: id.pid })],
  ];
  it.each(cases)('stop leaves it alive and forgets the record: %s', async (_label, identity) => {
    const other = await bystander();
    try {
      await writeRecord(ws.home, 'victim.json', embeddedRecord('victim', identity(other.identity)));
      const result = await runBounded(ws, ['stop', 'victim', '--json']);
      expect(result.code, result.stderr).toBe(0);
      expect(result.json()).toEqual({ stopped: [], gone: ['victim'] });
      expect(isAlive(other.child.pid!)).toBe(true);
      expect(await ws.json(['ps'])).toEqual([]);
    } finally {
      other.kill();
    }
  });
});

describe('run records that are garbage, links or special files', () => {
  const garbage: Array<[string, (home: string) => Promise<unknown>]> = [
    ['empty', (home) => writeRecord(home, 'bad.json', '')],
    ['not JSON', (home) => writeRecord(home, 'bad.json', '{"name": "bad", ')],
    ['a JSON array', (home) => writeRecord(home, 'bad.json', '[1, 2]')],
    ['a pid that is a string', (home) => writeRecord(home, 'bad.json', embeddedRecord('bad', { pid: '1; rm -rf /' }))],
    ['a negative pid (kill(-1) signals everything)', (home) => writeRecord(home, 'bad.json', embeddedRecord('bad', { pid: -1, pidStartTime: '1', cmdline: ['x'] }))],
    ['a port out of range', (home) => writeRecord(home, 'bad.json', embeddedRecord('bad', { port: 70000 }))],
    ['another deployment\'s name', (home) => writeRecord(home, 'bad.json', embeddedRecord('good'))],
    ['a Kamiwaza id that is a path', (home) => writeRecord(home, 'bad.json', { ...embeddedRecord('bad'), engine: 'kamiwaza',
      kamiwaza: { baseUrl: 'http://127.0.0.1:9/api', deploymentId: '../../models/x' } })],
    ['a 2 MB file', (home) => writeRecord(home, 'bad.json', `{"name": "bad", "pad": "${'x'.repeat(2 << 20)}"}`)],
    ['a symlink to a file outside', async (home) => {
      await mkdir(join(home, 'deployments'), { recursive: true });
      await symlink('/etc/hostname', join(home, 'deployments', 'bad.json'));
    }],
    ['a FIFO', async (home) => {
      await mkdir(join(home, 'deployments'), { recursive: true });
      execFileSync('mkfifo', [join(home, 'deployments', 'bad.json')]);
    }],
    ['a folder', (home) => mkdir(join(home, 'deployments', 'bad.json'), { recursive: true })],
  ];
  it.each(garbage)('%s: ps lists the others and names the file, stop reports it and stops the rest', async (_label, plant) => {
    const other = await bystander();
    const kase = await createWorkspace(undefined, NO_KAMIWAZA);
    try {
      await plant(kase.home);
      // A good record whose process is "ours" by its identity: stop --all must still reach it.
      await writeRecord(kase.home, 'good.json', embeddedRecord('good', { pid: other.identity.pid, pidStartTime: other.identity.startTime, cmdline: other.identity.cmdline }));
      const ps = await runBounded(kase, ['ps', '--json']);
      expect(ps.code, ps.stderr).toBe(0);
      expect(ps.json()).toMatchObject([{ name: 'good' }]);
      expect(ps.stderr).toMatch(/^aim: warning: .*bad/m);
      expect(ps.stderr).not.toMatch(/^\s+at /m);
      await expectRefused(kase, ['stop', 'bad'], /bad/);
      const stop = await runBounded(kase, ['stop', '--all', '--json']);
      expect(stop.code).not.toBe(0);
      expect(stop.code).not.toBe(70);
      expect(JSON.parse(stop.stdout)).toEqual({ stopped: ['good'], gone: [] });
      expect(stop.stderr).toMatch(/^aim: error: .*deployments\/bad\.json/m);
      await new Promise<void>((resolve) => (other.child.exitCode === null && other.child.signalCode === null ? other.child.once('exit', () => resolve()) : resolve()));
      expect(isAlive(other.child.pid!)).toBe(false);
    } finally {
      other.kill();
      await kase.cleanup();
    }
  });
});

describe('deployment names that try to leave AIM_HOME', () => {
  const names = ['../../x', '../escape', 'a/b', '/tmp/abs', 'x\u001b[31mred', 'tab\there', '..', '.hidden', 'n'.repeat(300)];
  it.each(names)('--name %j starts nothing and writes nothing', async (name) => {
    const before = await snapshot(ws.dir);
    await expectRefused(ws, ['run', 'team/tiny:v1', '--name', name, '--threads', '1'], /invalid deployment name/);
    await expectUnchanged(ws.dir, before);
    expect(await processesMentioning(ws.home)).toEqual([]);
  });
});

describe('AIM_HOME folders that are links', () => {
  it.each(['deployments', 'run'])('%s as a symlink to a folder outside: ps, stop and run refuse it, nothing is written there', async (folder) => {
    const kase = await createWorkspace(() => ({ team: { type: 'local', path: ws.path('store') } }), NO_KAMIWAZA);
    try {
      const elsewhere = kase.path('elsewhere');
      await mkdir(elsewhere, { recursive: true });
      await mkdir(kase.home, { recursive: true });
      await symlink(elsewhere, join(kase.home, folder));
      const before = await snapshot(elsewhere);
      const linkError = new RegExp(`${folder} is a symlink, not a folder`);
      if (folder === 'deployments') {
        await expectRefused(kase, ['ps'], linkError);
        await expectRefused(kase, ['stop', '--all'], linkError);
      }
      await expectRefused(kase, ['run', 'team/tiny:v1', '--name', 'linked', '--threads', '1'], linkError);
      await expectUnchanged(elsewhere, before);
      expect(await processesMentioning(kase.home)).toEqual([]);
    } finally {
      await kase.cleanup();
    }
  });
});

describe('a server log path that is not a plain file', () => {
  const plants: Array<[string, (log: string, outside: string) => Promise<unknown>]> = [
    ['a symlink to a file outside AIM_HOME', (log, outside) => symlink(outside, log)],
    ['a FIFO', async (log) => execFileSync('mkfifo', [log])],
  ];
  it.each(plants)('%s: run refuses it, writes nothing through it, leaves nothing running', async (_label, plant) => {
    const outside = ws.path('outside.txt');
    await writeFile(outside, 'untouched');
    await mkdir(join(ws.home, 'run'), { recursive: true });
    const log = join(ws.home, 'run', 'planted.log');
    await plant(log, outside);
    try {
      await expectRefused(ws, ['run', 'team/tiny:v1', '--name', 'planted', '--threads', '1'], /planted\.log is a (symlink|FIFO), not a regular file/);
      expect(await readFile(outside, 'utf8')).toBe('untouched');
      expect(await processesMentioning(log)).toEqual([]);
      expect(await ws.json(['ps'])).toEqual([]);
    } finally {
      await rm(log, { force: true });
    }
  });
});

describe('a Kamiwaza server that misbehaves', () => {
  let server: KamiwazaContractServer;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    server = new KamiwazaContractServer();
    env = { KAMIWAZA_BASE_URL: (await server.start()).replace(/\/api$/, ''), KAMIWAZA_API_KEY: 'test-token', AIM_KAMIWAZA_POLL_MS: '10' };
  });
  afterAll(async () => {
    expect(server.violations).toEqual([]);
    await server.close();
  });
  const runKz = (name: string, extra: NodeJS.ProcessEnv = {}) =>
    ['run', 'team/tiny:v1', '--engine', 'kamiwaza', '--name', name, { env: { ...env, ...extra } }] as const;

  async function refusedWith(op: string, misbehaviour: Misbehaviour, message: RegExp, extra: NodeJS.ProcessEnv = {}): Promise<void> {
    server.misbehave.set(op, misbehaviour);
    try {
      const [a, b, c, d, e, f, options] = runKz('kz', extra);
      await expectRefused(ws, [a, b, c, d, e, f], message, { timeoutMs: 20_000 }, options);
      // Nothing aim deployed is left behind (even when the deploy's answer was garbage), and no record of it either.
      expect(server.liveDeployments()).toEqual([]);
      expect(await ws.json(['ps'], { env })).toEqual([]);
    } finally {
      server.misbehave.delete(op);
      server.state.deployments.length = 0;
    }
  }

  it('a 600 MB reply: stops reading at the cap, memory bounded', async () => {
    await refusedWith('GET /auth/users/me', (res) => endlessJson(res, 600 << 20), /sent more than 32 MiB in reply to GET \/api\/auth\/users\/me/);
  });

  it('a reply that trickles forever: ends at the total deadline', async () => {
    await refusedWith('GET /models/', (res) => tricklingJson(res), /did not answer GET \/api\/models\/ within 1\.5 s/, { AIM_KAMIWAZA_REQUEST_TIMEOUT_MS: '1500' });
  });

  const accessPaths = ['@evil.example/x', '//evil.example/x', 'http://evil.example/v1', '/runtime/../../admin', '/x?redirect=http://evil', ':8080/x'];
  it.each(accessPaths)('access_path %j never becomes an endpoint off the API host', async (accessPath) => {
    await refusedWith('GET /serving/deployment/{deployment_id}', (res, honest) =>
      sendJson(res, honest.status, honest.status === 200 ? { ...(honest.body as object), access_path: (honest.body as { status: string }).status === 'DEPLOYED' ? accessPath : null } : honest.body),
    /not a plain path/);
  });

  // A spoiled deployment reads as garbage only while it runs, so that aim's clean-up (delete, then wait for STOPPED) sees it go.
  const whileRunning = (spoil: Record<string, unknown>): Misbehaviour => (res, honest) => {
    const body = honest.body as { status?: string };
    sendJson(res, honest.status, honest.status === 200 && body.status !== 'STOPPED' ? { ...body, ...spoil } : body);
  };
  const shapes: Array<[string, string, unknown]> = [
    ['who-am-I as a list', 'GET /auth/users/me', []],
    ['models as an object', 'GET /models/', { models: [] }],
    ['a model whose name is a number', 'GET /models/', [{ name: 5, id: '0b5e2d4c-1f7a-4e8b-9c3d-2a1b0c9d8e7f' }]],
    ['a model id that is a path', 'GET /models/', [{ name: 'x', id: '../../serving', m_files: [{ name: 'f', storage_type: 'file', storage_location: '/x' }] }]],
    ['a deployment id that is a path', 'POST /serving/deploy_model', '../../admin'],
    ['a port out of range', 'GET /serving/deployment/{deployment_id}', whileRunning({ lb_port: 99999 })],
    ['a deployment without its id', 'GET /serving/deployment/{deployment_id}', whileRunning({ id: undefined })],
    ['JSON that is not JSON', 'GET /model_configs/', '{"id": '],
  ];
  it.each(shapes)('%s: a plain error naming the call', async (_label, op, body) => {
    const status = op === 'POST /serving/deploy_model' ? 202 : 200;
    const misbehaviour: Misbehaviour = typeof body === 'function' ? body as Misbehaviour
      : (res) => sendJson(res, status, typeof body === 'string' && op !== 'POST /serving/deploy_model' ? body : JSON.stringify(body));
    await refusedWith(op, misbehaviour, /answered (GET|POST) \S+ with an unexpected reply/);
  });

  it('a record naming another server is asked without the API key', async () => {
    const seen: Array<string | undefined> = [];
    const spy = createServer((req, res) => {
      seen.push(req.headers.authorization);
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"detail": "who are you"}');
    });
    await new Promise<void>((resolve) => spy.listen(0, '127.0.0.1', resolve));
    const spyUrl = `http://127.0.0.1:${(spy.address() as AddressInfo).port}/api`;
    try {
      await writeRecord(ws.home, 'spied.json', { ...embeddedRecord('spied'), engine: 'kamiwaza', endpoint: '', port: undefined,
        kamiwaza: { baseUrl: spyUrl, deploymentId: '0b5e2d4c-1f7a-4e8b-9c3d-2a1b0c9d8e7f' } });
      const ps = await runBounded(ws, ['ps', '--json'], {}, { env });
      expect(ps.json()).toMatchObject([{ name: 'spied', status: 'unknown' }]);
      expect(seen.length).toBeGreaterThan(0);
      expect(seen.every((header) => header === undefined)).toBe(true);
    } finally {
      spy.close();
      await rm(join(ws.home, 'deployments', 'spied.json'), { force: true });
    }
  });

  it('a run under the name of a deployment whose server does not answer refuses instead of forgetting it', async () => {
    const file = await writeRecord(ws.home, 'kz-lost.json', { ...embeddedRecord('kz-lost'), engine: 'kamiwaza', port: undefined,
      kamiwaza: { baseUrl: 'http://127.0.0.1:9/api', deploymentId: '0b5e2d4c-1f7a-4e8b-9c3d-2a1b0c9d8e7f' } });
    try {
      const [a, b, c, d, e, f, options] = runKz('kz-lost');
      await expectRefused(ws, [a, b, c, d, e, f], /cannot tell whether kz-lost still runs: cannot reach Kamiwaza/, {}, options);
      expect(JSON.parse(await readFile(file, 'utf8')).kamiwaza.baseUrl).toBe('http://127.0.0.1:9/api');
      expect(server.liveDeployments()).toEqual([]);
    } finally {
      await rm(file, { force: true });
    }
  });

  it('an interrupted deploy is recorded, and a rerun leaves exactly one deployment', async () => {
    server.state.holdDeployments = true;
    const [a, b, c, d, e, f, options] = runKz('kz-int');
    const running = ws.start([a, b, c, d, e, f], options);
    const recordFile = join(ws.home, 'deployments', 'kz-int.json');
    await expect.poll(async () => readFile(recordFile, 'utf8').catch(() => ''), { timeout: 20_000 }).toMatch(/"deploymentId"/);
    // While that run is still going, another run under the same name is refused, not a second deployment.
    const [g, h, i, j, k, l] = runKz('kz-int');
    await expectRefused(ws, [g, h, i, j, k, l], /kz-int is being started by another aim run/, { timeoutMs: 20_000 }, options);
    const interrupted = await signalWhen(running, async () => true, 'SIGINT');
    // Ctrl-C ends aim with 130, or by the signal itself once the handler re-raises it.
    expect(interrupted.code === 130 || interrupted.signal === 'SIGINT', `${interrupted.code} ${interrupted.signal}`).toBe(true);
    expect(server.liveDeployments()).toHaveLength(1);
    // ps and stop know it although run never finished.
    expect(await ws.json(['ps'], { env })).toMatchObject([{ name: 'kz-int', engine: 'kamiwaza', status: 'starting' }]);
    server.state.holdDeployments = false;
    const rerun = await runBounded(ws, [a, b, c, d, e, f, '--json'], { timeoutMs: 20_000 }, options);
    expect(rerun.code, rerun.stderr).toBe(0);
    const live = server.liveDeployments();
    expect(live).toHaveLength(1);
    expect(rerun.json().kamiwaza.deploymentId).toBe(live[0]!.id);
    expect(await ws.json(['stop', 'kz-int'], { env })).toEqual({ stopped: ['kz-int'], gone: [] });
    expect(server.liveDeployments()).toEqual([]);
  });

  it('a run interrupted before the deploy request was answered: ps finds the deployment, a rerun leaves exactly one', async () => {
    server.misbehave.set('POST /serving/deploy_model', () => undefined); // the deployment is made; the answer never comes
    try {
      const [a, b, c, d, e, f, options] = runKz('kz-early');
      const running = ws.start([a, b, c, d, e, f], options);
      await signalWhen(running, async () => server.liveDeployments().length === 1, 'SIGINT');
    } finally {
      server.misbehave.delete('POST /serving/deploy_model');
    }
    expect(await ws.json(['ps'], { env })).toMatchObject([{ name: 'kz-early', engine: 'kamiwaza', status: expect.stringMatching(/^(starting|running)$/) }]);
    const [a, b, c, d, e, f, options] = runKz('kz-early');
    const rerun = await runBounded(ws, [a, b, c, d, e, f, '--json'], { timeoutMs: 20_000 }, options);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(server.liveDeployments().map((x) => x.id)).toEqual([rerun.json().kamiwaza.deploymentId]);
    expect(await ws.json(['stop', 'kz-early'], { env })).toEqual({ stopped: ['kz-early'], gone: [] });
    expect(server.liveDeployments()).toEqual([]);
  });
});

describe('clients of the embedded server', () => {
  let record: { endpoint: string; logFile: string; name: string };
  beforeAll(async () => {
    record = await ws.json(['run', 'team/tiny:v1', '--name', 'ctx', '--ctx-size', '128', '--threads', '1']);
  });
  afterAll(async () => {
    await ws.run(['stop', 'ctx']);
  });
  const chat = (body: Record<string, unknown>, signal?: AbortSignal) =>
    fetch(`${record.endpoint}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal });

  it('a chat longer than the context is answered 400 context_length_exceeded, not silently cut', async () => {
    const long = await chat({ messages: [{ role: 'user', content: 'hello world '.repeat(200) }], max_tokens: 4 });
    expect(long.status).toBe(400);
    expect(await long.json()).toMatchObject({ error: { type: 'invalid_request_error', code: 'context_length_exceeded', message: expect.stringMatching(/maximum context length is 128 tokens/) } });
    const prompt = await fetch(`${record.endpoint}/completions`, { method: 'POST', body: JSON.stringify({ prompt: 'once upon a time '.repeat(100), max_tokens: 4 }) });
    expect(prompt.status).toBe(400);
    expect(await prompt.json()).toMatchObject({ error: { param: 'prompt', code: 'context_length_exceeded' } });
    const tooMuch = await chat({ messages: [{ role: 'user', content: 'hi' }], max_tokens: 128 });
    expect(tooMuch.status).toBe(400);
    expect((await tooMuch.json()).error.code).toBe('context_length_exceeded');
    // What fits is answered; a default completion length is trimmed to what is left instead of refused.
    const fits = await chat({ messages: [{ role: 'user', content: 'hi' }] });
    expect(fits.status).toBe(200);
    expect((await fits.json()).usage.total_tokens).toBeLessThanOrEqual(128);
  });

  it('a client hang-up leaves at most one short line in the log, mid-answer or mid-request', async () => {
    const before = (await readFile(record.logFile, 'utf8')).split('\n').length;
    const abort = new AbortController();
    const res = await chat({ messages: [{ role: 'user', content: 'hi' }], max_tokens: 60, stream: true }, abort.signal);
    await res.body!.getReader().read();
    abort.abort();
    // A client that sends half a body and goes away.
    const { port } = new URL(record.endpoint);
    const socket = connect(Number(port), '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.end('POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n{"messa', () => socket.destroy());
    await expect.poll(async () => readFile(record.logFile, 'utf8'), { timeout: 10_000 }).toMatch(/hung up/);
    // The server answers one request at a time: once the next is answered, the hung-up stream has been dealt with.
    expect((await chat({ messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 })).status).toBe(200);
    const added = (await readFile(record.logFile, 'utf8')).split('\n').slice(before - 1).filter(Boolean);
    expect(added.length, added.join('\n')).toBeLessThanOrEqual(2);
    for (const line of added) expect(line.length, line).toBeLessThan(200);
    expect(added.join('\n')).not.toMatch(/^\s+at /m);
  });
});
