// A Kamiwaza server as an attacker (or a broken proxy) plays it: replies too large, too slow, in the wrong shape,
// with an endpoint on another host; records naming another server; a `run` interrupted mid-deploy. The stand-in
// follows the published contract except where a case spoils one reply on purpose. Each case runs the real CLI
// under time and memory bounds and checks effects on the server's side: nothing aim deployed is left unknown.
import { createServer } from 'node:http';
import { readFile, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signalWhen, type Workspace } from '../helpers/cli.js';
import { KamiwazaContractServer, type Misbehaviour } from '../helpers/kamiwaza-contract-server.js';
import { expectRefused, runBounded } from './harness.js';
import { embeddedRecord, endlessJson, sendJson, servingWorkspace, tricklingJson, writeRecord } from './serving-fixtures.js';

let ws: Workspace;
beforeAll(async () => {
  ws = await servingWorkspace();
});
afterAll(async () => {
  await ws.cleanup();
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
      expect((await ws.json(['ps'], { env })).deployments).toEqual([]);
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
      expect(ps.json().deployments).toMatchObject([{ name: 'spied', status: 'unknown' }]);
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
    expect((await ws.json(['ps'], { env })).deployments).toMatchObject([{ name: 'kz-int', engine: 'kamiwaza', status: 'starting' }]);
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
    expect((await ws.json(['ps'], { env })).deployments).toMatchObject([{ name: 'kz-early', engine: 'kamiwaza', status: expect.stringMatching(/^(starting|running)$/) }]);
    const [a, b, c, d, e, f, options] = runKz('kz-early');
    const rerun = await runBounded(ws, [a, b, c, d, e, f, '--json'], { timeoutMs: 20_000 }, options);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(server.liveDeployments().map((x) => x.id)).toEqual([rerun.json().kamiwaza.deploymentId]);
    expect(await ws.json(['stop', 'kz-early'], { env })).toEqual({ stopped: ['kz-early'], gone: [] });
    expect(server.liveDeployments()).toEqual([]);
  });
});
