// An S3 endpoint that lies: an HTTP server on loopback that forwards every request to a real S3 server (s3rver or
// radosgw) unchanged, except the requests a test picks, which it answers itself with whatever a broken or hostile
// server might send: listings that never end, objects of hundreds of megabytes, error text full of escape
// sequences, replies that drip a byte at a time. The client's signature stays valid: the request, Host header
// included, reaches the real server as it was sent.
import { createServer, type IncomingHttpHeaders, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Answers one request in place of the real server. */
export type Responder = (req: IncomingMessage, res: ServerResponse) => void;

export interface Lie {
  /** Which requests to answer: matched against `METHOD /path?query`. */
  when: RegExp;
  respond: Responder;
}

/** A request passed on to the real server changed: a man in the middle rather than a lying server. */
export interface Alteration {
  /** Which requests to change: matched against `METHOD /path?query`. */
  when: RegExp;
  /** The headers and body the real server gets instead (Content-Length is set to the new body's). */
  alter(headers: IncomingHttpHeaders, body: Buffer): { headers: IncomingHttpHeaders; body: Buffer };
}

export interface HostileS3 {
  endpoint: string;
  /** Requests answered by the current lie, or changed by the current alteration, so far. */
  readonly lied: number;
  /** The lie for the next requests (undefined: forward everything). */
  set(lie: Lie | undefined): void;
  /** The alteration for the next requests forwarded (undefined: forward them as they came). */
  alter(alteration: Alteration | undefined): void;
  stop(): Promise<void>;
}

function forward(target: URL, req: IncomingMessage, res: ServerResponse, body?: { headers: IncomingHttpHeaders; bytes: Buffer }): void {
  const upstream = request(
    { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: body?.headers ?? req.headers },
    (reply) => {
      res.writeHead(reply.statusCode ?? 502, reply.headers);
      reply.pipe(res);
    },
  );
  upstream.on('error', () => res.destroy());
  if (body) upstream.end(body.bytes);
  else req.pipe(upstream);
}

/** Reads the whole request, changes it, and forwards what `alteration` made of it. */
function forwardAltered(target: URL, req: IncomingMessage, res: ServerResponse, alteration: Alteration): void {
  const pieces: Buffer[] = [];
  req.on('data', (piece: Buffer) => pieces.push(piece));
  req.on('end', () => {
    const { headers, body } = alteration.alter({ ...req.headers }, Buffer.concat(pieces));
    // The body goes whole, with its length: a chunked framing the client used no longer applies.
    const { 'transfer-encoding': _framing, ...rest } = headers;
    forward(target, req, res, { headers: { ...rest, 'content-length': String(body.length) }, bytes: body });
  });
}

export async function startHostileS3(targetEndpoint: string): Promise<HostileS3> {
  const target = new URL(targetEndpoint);
  let lie: Lie | undefined;
  let alteration: Alteration | undefined;
  let lied = 0;
  const sockets = new Set<import('node:net').Socket>();
  const server: Server = createServer((req, res) => {
    if (lie?.when.test(`${req.method} ${req.url}`)) {
      lied++;
      req.resume();
      lie.respond(req, res);
    } else if (alteration?.when.test(`${req.method} ${req.url}`)) {
      lied++;
      forwardAltered(target, req, res, alteration);
    } else forward(target, req, res);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    get lied() {
      return lied;
    },
    set(next) {
      lie = next;
      lied = 0;
    },
    alter(next) {
      alteration = next;
      lied = 0;
    },
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A ListObjectsV2 page: these keys (under the request's prefix), truncated or not, with this next token. */
export function listPage(req: IncomingMessage, res: ServerResponse, page: { keys: string[]; truncated: boolean; next?: string }): void {
  const url = new URL(req.url ?? '/', 'http://x');
  const prefix = url.searchParams.get('prefix') ?? '';
  const bucket = url.pathname.split('/')[1] ?? '';
  const contents = page.keys.map((key) => `<Contents><Key>${prefix}${key}</Key><Size>10</Size><ETag>"0"</ETag></Contents>`).join('');
  const body =
    `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
    `<Name>${bucket}</Name><Prefix>${prefix}</Prefix><KeyCount>${page.keys.length}</KeyCount><MaxKeys>1000</MaxKeys>` +
    `<IsTruncated>${page.truncated}</IsTruncated>${page.next ? `<NextContinuationToken>${page.next}</NextContinuationToken>` : ''}` +
    `${contents}</ListBucketResult>`;
  res.writeHead(200, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** An S3 error document with the given status, code and message (written raw: escape sequences and all). */
export function s3Error(res: ServerResponse, status: number, code: string, message: string): void {
  const body = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message><RequestId>HOSTILE</RequestId></Error>`;
  res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/**
 * A body of `size` bytes of `fill`, announced with Content-Length (`declare`) or sent chunked; written as fast as
 * the client reads it, and given up when the client goes away.
 */
export function hugeBody(res: ServerResponse, size: number, options: { declare: boolean; fill?: number; contentType?: string }): void {
  res.writeHead(200, { 'content-type': options.contentType ?? 'application/octet-stream', ...(options.declare ? { 'content-length': size } : {}) });
  const piece = Buffer.alloc(64 * 1024, options.fill ?? 0x20);
  let sent = 0;
  const pump = () => {
    while (sent < size && !res.destroyed) {
      const part = piece.subarray(0, Math.min(piece.length, size - sent));
      sent += part.length;
      if (!res.write(part)) return void res.once('drain', pump);
    }
    if (!res.destroyed) res.end();
  };
  res.on('error', () => undefined);
  pump();
}

/** Headers at once, then one byte every `everyMs` for ever (well inside any idle timeout): only a total deadline ends it. */
export function drip(res: ServerResponse, everyMs: number, headers: Record<string, string | number> = {}): void {
  res.writeHead(200, { 'content-type': 'application/octet-stream', ...headers });
  const timer = setInterval(() => (res.destroyed ? clearInterval(timer) : res.write(' ')), everyMs);
  res.on('close', () => clearInterval(timer));
  res.on('error', () => undefined);
}
