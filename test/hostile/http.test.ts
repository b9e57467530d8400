// A read-only http repository whose web server is the attacker, through the built CLI under the harness's bounds:
// each misbehaviour (a body that stops midway, a body shorter than its Content-Length, a trickle slower than any
// real network, a redirect to a file: URL or from https to plain http, an endless index.json)
// must end in one plain error line within the time and memory bound, with nothing written into DEST.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import type { IncomingMessage } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkspace, type Workspace } from '../helpers/cli.js';
import { startStaticServer, type Misbehaviour, type StaticServer } from '../e2e/http-repo-server.js';
import { expectRefused } from './harness.js';

const packRange = (request: IncomingMessage) => {
  const range = /^bytes=(\d+)-(\d+)$/.exec(request.headers.range ?? '');
  return request.url?.startsWith('/packs/') && range ? { from: Number(range[1]), to: Number(range[2]) } : undefined;
};

/** Writes `total` bytes one small piece at a time until the client goes away. */
function trickle(response: import('node:http').ServerResponse, total: number): void {
  let sent = 0;
  const timer = setInterval(() => {
    if (response.destroyed || sent >= total) return clearInterval(timer);
    response.write('x');
    sent++;
  }, 20);
  response.on('close', () => clearInterval(timer));
}

const cases: Array<{ name: string; message: RegExp; handler: Misbehaviour }> = [
  {
    name: 'a body that stops midway',
    message: /sent nothing for 300 ms/,
    handler: (request, response) => {
      const range = packRange(request);
      if (!range) return false;
      response.writeHead(206, { 'content-range': `bytes ${range.from}-${range.to}/999999999`, 'content-length': range.to - range.from + 1 });
      response.write(Buffer.alloc(10));
      return true;
    },
  },
  {
    name: 'a body shorter than its Content-Length, then the connection closed',
    message: /closed the connection after 10 bytes of its body/,
    handler: (request, response) => {
      const range = packRange(request);
      if (!range) return false;
      response.writeHead(206, { 'content-range': `bytes ${range.from}-${range.to}/999999999`, 'content-length': range.to - range.from + 1 });
      response.write(Buffer.alloc(10), () => response.destroy());
      return true;
    },
  },
  {
    name: 'a trickle of one byte at a time (slow loris)',
    message: /slower than any real network/,
    handler: (request, response) => {
      const range = packRange(request);
      if (!range) return false;
      response.writeHead(206, { 'content-range': `bytes ${range.from}-${range.to}/999999999`, 'content-length': range.to - range.from + 1 });
      trickle(response, range.to - range.from + 1);
      return true;
    },
  },
  {
    name: 'a redirect to a file: URL',
    message: /redirects to "file:\/\/\/etc\/passwd", which is not an http\(s\) URL/,
    handler: (request, response) => {
      if (!request.url?.startsWith('/packs/')) return false;
      response.writeHead(302, { location: 'file:///etc/passwd' }).end();
      return true;
    },
  },
];

describe('hostile http repository: every misbehaviour is one plain error within bounds', () => {
  let ws: Workspace;
  let server: StaticServer;

  beforeAll(async () => {
    ws = await createWorkspace((dir) => ({ origin: { type: 'local', path: `${dir}/origin` } }));
    await mkdir(ws.path('src'), { recursive: true });
    await writeFile(ws.path('src', 'w.bin'), randomBytes(300_000));
    await ws.json(['push', 'origin/tiny:v1', ws.path('src')]);
    server = await startStaticServer(ws.path('origin'));
    await ws.json(['repo', 'create', 'web', '--type', 'http', '--url', server.url]);
  });
  afterAll(async () => {
    await server?.close();
    await ws?.cleanup();
  });

  it.each(cases)('pull fails plainly on $name, writing nothing into DEST', async ({ name, message, handler }) => {
    server.misbehave(handler);
    try {
      const slug = name.replace(/\W+/g, '-');
      const dest = ws.path(`out-${slug}`);
      await expectRefused(ws, ['pull', 'web/tiny:v1', dest], message, { timeoutMs: 30_000 }, { env: { AIM_HOME: ws.path(`home-${slug}`), AIM_HTTP_IDLE_TIMEOUT_MS: '300' } });
      expect(existsSync(`${dest}/w.bin`)).toBe(false);
    } finally {
      server.misbehave(undefined);
    }
  });

  it('a redirect from https to plain http is not followed', async () => {
    const dir = ws.path('tls');
    await mkdir(dir, { recursive: true });
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    const secure = createHttpsServer({ key: await readFile(join(dir, 'key.pem')), cert: await readFile(join(dir, 'cert.pem')) }, (request, response) => {
      response.writeHead(301, { location: `${server.url}${(request.url ?? '/').slice(1)}` }).end();
    });
    await new Promise<void>((resolve) => secure.listen(0, '127.0.0.1', resolve));
    try {
      const url = `https://127.0.0.1:${(secure.address() as AddressInfo).port}/`;
      await ws.json(['repo', 'create', 'secure', '--type', 'http', '--url', url]);
      server.seen.length = 0;
      await expectRefused(ws, ['list', '--repo', 'secure'], /redirects to http:\/\/127\.0\.0\.1:\d+\/index\.json, from https to plain http/, {}, {
        env: { AIM_HOME: ws.path('home-tls'), NODE_EXTRA_CA_CERTS: join(dir, 'cert.pem') },
      });
      expect(server.seen).toEqual([]);
    } finally {
      secure.closeAllConnections();
      await new Promise((resolve) => secure.close(resolve));
    }
  });

  it('an endless index.json without a Content-Length is refused at its bound, naming why', async () => {
    server.misbehave((request, response) => {
      if (request.url !== '/index.json') return false;
      response.writeHead(200);
      if (request.method === 'HEAD') return Boolean(response.end());
      const block = Buffer.alloc(1024 * 1024, 0x20);
      const more = () => {
        while (!response.destroyed && response.write(block));
        if (!response.destroyed) response.once('drain', more);
      };
      more();
      return true;
    });
    try {
      // The bound is index.json's own (512 MiB): what is read up to it is held, as for an honest index.json that large.
      await expectRefused(ws, ['list', '--repo', 'web'], /index\.json in http:.*more than the \d+ such a file can hold, and a web server cannot list/, { timeoutMs: 60_000, maxRssMiB: 1200 }, { env: { AIM_HOME: ws.path('home-endless') } });
    } finally {
      server.misbehave(undefined);
    }
  });
});
