// A repository published read-only by a static web server (type http), through the built CLI: a small Node server
// with Range support stands in for nginx, and `python3 -m http.server` (which ignores Range) for the simplest one.
// Covers list, search, inspect, pull (identical files, verify), refused writes, a version without a location map,
// and hostile replies (more bytes than asked, a wrong Content-Range, a redirect loop, a 5 GiB Content-Length, a
// server that hangs): each a plain error, nothing written into DEST.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkspace, expectUserError, type Workspace } from '../helpers/cli.js';
import { startStaticServer, type StaticServer } from './http-repo-server.js';

const isPackRange = (url: string | undefined, range: string | undefined) => url?.startsWith('/packs/') === true && range !== undefined;

async function startPythonServer(root: string): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn('python3', ['-u', '-m', 'http.server', '0', '--bind', '127.0.0.1', '--directory', root], { stdio: ['ignore', 'pipe', 'ignore'] });
  const lines = createInterface({ input: child.stdout! });
  for await (const line of lines) {
    const port = / port (\d+) /.exec(line)?.[1];
    if (port) return { url: `http://127.0.0.1:${port}/`, child };
  }
  throw new Error('python3 -m http.server did not start');
}

describe('http repository (static web server, e2e)', () => {
  let ws: Workspace;
  let server: StaticServer;
  let python: { url: string; child: ChildProcess };
  let weights: Buffer;

  beforeAll(async () => {
    ws = await createWorkspace((dir) => ({ origin: { type: 'local', path: `${dir}/origin` } }));
    weights = randomBytes(3_000_000);
    await mkdir(ws.path('src'), { recursive: true });
    await writeFile(ws.path('src', 'w.bin'), weights);
    await writeFile(ws.path('src', 'readme.txt'), 'a readme');
    await ws.json(['push', 'origin/tiny:v1', ws.path('src'), '--description', 'published over http']);
    server = await startStaticServer(ws.path('origin'));
    python = await startPythonServer(ws.path('origin'));
    await ws.json(['repo', 'create', 'web', '--type', 'http', '--url', server.url]);
    await ws.json(['repo', 'create', 'plain', '--type', 'http', '--url', python.url]);
  });
  afterAll(async () => {
    await server?.close();
    python?.child.kill();
    await ws.cleanup();
  });

  it('writes type http and url into model_repos.yaml', async () => {
    const config = await readFile(ws.config, 'utf8');
    expect(config).toContain(`type: http\n    url: ${server.url}`);
  });

  it('lists, searches and inspects from index.json and the catalog without listing', async () => {
    const listed = await ws.json(['list', '--repo', 'web']);
    expect(listed.models.map((m: { model: string }) => m.model)).toEqual(['tiny']);
    const found = await ws.run(['search', 'published']);
    expect(found.code, found.stderr).toBe(0);
    expect(found.stdout).toContain('web/tiny:latest');
    const versions = await ws.run(['model', 'versions', 'web', 'tiny']);
    expect(versions.stdout).toMatch(/v1/);
    const inspected = await ws.run(['inspect', 'web/tiny:v1']);
    expect(inspected.code, inspected.stderr).toBe(0);
    expect(inspected.stdout).toContain('w.bin');
  });

  it('pulls identical files with range requests, and verify passes', async () => {
    server.seen.length = 0;
    const pulled = await ws.run(['pull', 'web/tiny:v1', ws.path('out')]);
    expect(pulled.code, pulled.stderr).toBe(0);
    expect((await readFile(ws.path('out', 'w.bin'))).equals(weights)).toBe(true);
    expect(await readFile(ws.path('out', 'readme.txt'), 'utf8')).toBe('a readme');
    expect(server.seen.some((request) => request.path.startsWith('/packs/') && /^bytes=\d+-\d+$/.test(request.range ?? ''))).toBe(true);
    expect((await ws.run(['verify', 'web', 'tiny:v1'])).code).toBe(0);
  });

  it('pulls from a server that ignores Range (python3 -m http.server)', async () => {
    const pulled = await ws.run(['pull', 'plain/tiny:v1', ws.path('out-plain')], { env: { AIM_HOME: ws.path('home-plain') } });
    expect(pulled.code, pulled.stderr).toBe(0);
    expect((await readFile(ws.path('out-plain', 'w.bin'))).equals(weights)).toBe(true);
  });

  it('refuses writes plainly (exit 2)', async () => {
    const pushed = await ws.run(['push', 'web/other:v1', ws.path('src')]);
    expectUserError(pushed, /repository web is read-only \(type http\)/);
    expect(pushed.code).toBe(2);
    const deleted = await ws.run(['model', 'delete', 'web', 'tiny']);
    expect(deleted.code).toBe(2);
    expect(existsSync(ws.path('origin', 'catalog', 'tiny.json'))).toBe(true);
  });

  it('refuses a version without a location map, with the upgrade hint', async () => {
    await rename(ws.path('origin', 'locations'), ws.path('locations-aside'));
    try {
      const pulled = await ws.run(['pull', 'web/tiny:v1', ws.path('out-nomap')], { env: { AIM_HOME: ws.path('home-nomap') } });
      expect(expectUserError(pulled, /cannot list index\//)).toBeTruthy();
      expect(pulled.stderr).toMatch(/aim repo upgrade/);
    } finally {
      await rename(ws.path('locations-aside'), ws.path('origin', 'locations'));
    }
  });

  it('a pull killed (-9) midway completes when run again, with range requests, files identical', async () => {
    let served = 0;
    let heldOne: () => void = () => undefined;
    const held = new Promise<void>((resolve) => { heldOne = resolve; });
    // The first pack range is answered; the next ones are held unanswered, so the kill lands mid-pull.
    server.misbehave((request) => {
      if (!isPackRange(request.url, request.headers.range)) return false;
      if (served++ === 0) return false;
      heldOne();
      return true;
    });
    const env = { AIM_HOME: ws.path('home-killed') };
    const running = ws.start(['pull', 'web/tiny:v1', ws.path('out-killed')], { env });
    await held;
    running.child.kill('SIGKILL');
    expect((await running.result).signal).toBe('SIGKILL');
    server.misbehave(undefined);
    server.seen.length = 0;
    const resumed = await ws.run(['pull', 'web/tiny:v1', ws.path('out-killed')], { env });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect((await readFile(ws.path('out-killed', 'w.bin'))).equals(weights)).toBe(true);
    expect(server.seen.some((request) => request.path.startsWith('/packs/') && request.range !== undefined)).toBe(true);
  });

  const hostile: Array<[string, RegExp, Parameters<StaticServer['misbehave']>[0]]> = [
    ['more bytes than asked', /more than the \d+ bytes its Content-Range names/, (request, response) => {
      const [, from, to] = /^bytes=(\d+)-(\d+)$/.exec(request.headers.range ?? '') ?? [];
      if (!isPackRange(request.url, request.headers.range)) return false;
      response.writeHead(206, { 'content-range': `bytes ${from}-${to}/999999999` });
      response.end(Buffer.alloc(Number(to) - Number(from) + 1000));
      return true;
    }],
    ['a wrong Content-Range', /Content-Range "bytes 1-\d+/, (request, response) => {
      const [, , to] = /^bytes=(\d+)-(\d+)$/.exec(request.headers.range ?? '') ?? [];
      if (!isPackRange(request.url, request.headers.range)) return false;
      response.writeHead(206, { 'content-range': `bytes 1-${to}/999999999` });
      response.end(Buffer.alloc(Number(to)));
      return true;
    }],
    ['a redirect loop', /redirects more than 5 times/, (request, response) => {
      if (!request.url?.startsWith('/packs/')) return false;
      response.writeHead(302, { location: request.url }).end();
      return true;
    }],
    ['a 5 GiB Content-Length', /5368709120 bytes/, (request, response) => {
      if (!isPackRange(request.url, request.headers.range)) return false;
      const [, from, to] = /^bytes=(\d+)-(\d+)$/.exec(request.headers.range ?? '') ?? [];
      response.writeHead(206, { 'content-range': `bytes ${from}-${to}/9999999999`, 'content-length': 5 * 1024 ** 3 });
      response.write('x');
      return true;
    }],
    ['a server that hangs', /sent nothing for 300 ms/, (request) => isPackRange(request.url, request.headers.range)],
  ];

  for (const [name, message, handler] of hostile) {
    it(`fails plainly on ${name}, writing nothing into DEST`, async () => {
      server.misbehave(handler);
      try {
        const dest = ws.path(`out-${name.replaceAll(' ', '-')}`);
        const pulled = await ws.run(['pull', 'web/tiny:v1', dest], { env: { AIM_HOME: ws.path(`home-${name.replaceAll(' ', '-')}`), AIM_HTTP_IDLE_TIMEOUT_MS: '300' } });
        expectUserError(pulled, message);
        expect(existsSync(`${dest}/w.bin`)).toBe(false);
      } finally {
        server.misbehave(undefined);
      }
    });
  }
});
