// The serving side as an attacker sees it: run records in AIM_HOME that lie (a reused pid, garbage, links, FIFOs),
// deployment names that try to leave AIM_HOME, links where AIM_HOME's folders and files should be, and clients of
// the embedded server that overflow its context or hang up (the Kamiwaza side: serving-kamiwaza.test.ts). Each case
// runs the real CLI under time and memory bounds and checks effects.
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAlive } from '../../src/serving/process-utils.js';
import { createWorkspace, type Workspace } from '../helpers/cli.js';
import { expectRefused, expectUnchanged, runBounded, snapshot } from './harness.js';
import { bystander, embeddedRecord, NO_KAMIWAZA, processesMentioning, servingWorkspace, writeRecord } from './serving-fixtures.js';


let ws: Workspace;
beforeAll(async () => {
  ws = await servingWorkspace();
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
      expect((await ws.json(['ps'])).deployments).toEqual([]);
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
      expect(ps.json()).toMatchObject({ deployments: [{ name: 'good' }], problems: [{ message: expect.stringMatching(/bad/) }] });
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
      expect((await ws.json(['ps'])).deployments).toEqual([]);
    } finally {
      await rm(log, { force: true });
    }
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

  it('a body over 1 MiB is refused 413, a body that is not one JSON object 400, and the server goes on answering', async () => {
    const huge = await fetch(`${record.endpoint}/chat/completions`, { method: 'POST', body: `{"messages": "${'x'.repeat(2 * 1024 * 1024)}"}` });
    expect(huge.status).toBe(413);
    expect((await huge.json()).error.message).toMatch(/larger than 1 MiB/);
    for (const body of ['{"messages": [', '[1, 2]', 'null']) {
      const bad = await fetch(`${record.endpoint}/chat/completions`, { method: 'POST', body });
      expect(bad.status, body).toBe(400);
      expect((await bad.json()).error.message).toMatch(/not valid JSON|must be a JSON object/);
    }
    expect((await chat({ messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 })).status).toBe(200);
  });

  it('a chat body of the wrong shape is refused 400 naming the field, 10^5 messages included, and the server goes on answering', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ messages: 'hi' }, 'messages'],
      [{ messages: [{ role: 'user', content: 'a' }, { role: 'robot', content: 'b' }] }, 'messages[1].role'],
      [{ messages: [{ role: 'user', content: { text: 'a' } }] }, 'messages[0].content'],
      [{ messages: Array(100_000).fill({}) }, 'messages'],
      [{ messages: [{ role: 'user', content: 'hi' }], max_tokens: 'many' }, 'max_tokens'],
      [{ messages: [{ role: 'user', content: 'hi' }], stream: 'yes' }, 'stream'],
    ];
    for (const [body, param] of cases) {
      const bad = await chat(body);
      expect(bad.status, param).toBe(400);
      expect((await bad.json()).error).toMatchObject({ type: 'invalid_request_error', param, message: expect.stringContaining(param) });
    }
    expect((await chat({ messages: Array(100_000).fill({ role: 'user', content: 'hi' }) })).status).toBe(413);
    expect((await chat({ messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 })).status).toBe(200);
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
