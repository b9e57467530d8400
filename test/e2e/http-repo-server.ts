// A minimal static file server with Range support, standing in for nginx in the http repository tests. It records
// every request (so a test can see the Range headers a resumed pull sent) and can be told to misbehave for one path.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize } from 'node:path';

export interface SeenRequest {
  method: string;
  path: string;
  range?: string;
}

/** Replaces the normal answer for the requests it returns true for (it has written the reply itself). */
export type Misbehaviour = (request: IncomingMessage, response: ServerResponse, file: string) => boolean | Promise<boolean>;

export interface StaticServer {
  url: string;
  seen: SeenRequest[];
  misbehave(handler: Misbehaviour | undefined): void;
  close(): Promise<void>;
}

async function serveFile(request: IncomingMessage, response: ServerResponse, file: string): Promise<void> {
  const info = await stat(file).catch(() => undefined);
  if (!info?.isFile()) {
    response.writeHead(404).end();
    return;
  }
  const range = /^bytes=(\d+)-(\d*)$/.exec(request.headers.range ?? '');
  if (!range) {
    response.writeHead(200, { 'content-length': info.size });
    if (request.method === 'HEAD') response.end();
    else createReadStream(file).pipe(response);
    return;
  }
  const start = Number(range[1]);
  const end = Math.min(range[2] ? Number(range[2]) : info.size - 1, info.size - 1);
  if (start >= info.size) {
    response.writeHead(416, { 'content-range': `bytes */${info.size}` }).end();
    return;
  }
  response.writeHead(206, { 'content-length': end - start + 1, 'content-range': `bytes ${start}-${end}/${info.size}` });
  createReadStream(file, { start, end }).pipe(response);
}

export async function startStaticServer(root: string): Promise<StaticServer> {
  const seen: SeenRequest[] = [];
  let misbehaviour: Misbehaviour | undefined;
  const sockets = new Set<import('node:net').Socket>();
  const server: Server = createServer((request, response) => {
    const path = decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname);
    seen.push({ method: request.method ?? '', path, range: request.headers.range });
    const file = join(root, normalize(path));
    void (async () => {
      if (misbehaviour && (await misbehaviour(request, response, file))) return;
      await serveFile(request, response, file);
    })().catch(() => response.destroy());
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    seen,
    misbehave: (handler) => { misbehaviour = handler; },
    close: () => new Promise((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }),
  };
}
