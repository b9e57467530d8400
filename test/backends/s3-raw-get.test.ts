// Chunk reads over plain HTTP go through RawGetter (s3-raw-get.ts), which parses replies itself. A TCP server on
// loopback answers with exact bytes (what a well-behaved object server sends, and what a broken or hostile one
// might), and the test reads through S3Backend.readInto, the path a pull takes.
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HttpRequest } from '@smithy/core/protocols';
import { S3Backend } from '../../src/backends/s3/s3.js';
import { RawGetter } from '../../src/backends/s3/s3-raw-get.js';
import { RawUnsupported } from '../../src/backends/s3/s3-raw-reply.js';
import { NotFoundError } from '../../src/lib/errors.js';

const OBJECT = Buffer.from(Array.from({ length: 100_000 }, (_, i) => (i * 7) % 251));

/** What the server answers to one request, given its head (request line and headers, lowercased names). */
type Answer = (request: { path: string; headers: Record<string, string> }, socket: Socket, served: number) => void;

function parseRequest(text: string): { path: string; headers: Record<string, string> } {
  const [line, ...lines] = text.split('\r\n');
  const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
  return { path: line!.split(' ')[1]!, headers };
}

/** A well-behaved answer: 206 with the asked range, or 200 with the whole object. */
const ranged: Answer = ({ headers }, socket) => {
  const match = /^bytes=(\d+)-(\d+)$/.exec(headers.range ?? '');
  const [first, last] = match ? [Number(match[1]), Math.min(Number(match[2]), OBJECT.length - 1)] : [0, OBJECT.length - 1];
  const body = OBJECT.subarray(first, last + 1);
  const range = match ? `content-range: bytes ${first}-${last}/${OBJECT.length}\r\n` : '';
  socket.write(`HTTP/1.1 ${match ? 206 : 200} OK\r\ncontent-length: ${body.length}\r\n${range}etag: "e"\r\n\r\n`);
  socket.write(body);
};

describe('chunk reads over plain HTTP (RawGetter)', () => {
  let server: Server;
  let endpoint: string;
  let answer: Answer = ranged;
  let connections = 0;
  let served = 0;
  const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };

  beforeAll(async () => {
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret' });
    server = createServer((socket) => {
      connections++;
      let pending = '';
      socket.on('error', () => undefined);
      socket.on('data', (bytes) => {
        pending += bytes.toString('latin1');
        for (let end = pending.indexOf('\r\n\r\n'); end >= 0; end = pending.indexOf('\r\n\r\n')) {
          const request = parseRequest(pending.slice(0, end));
          pending = pending.slice(end + 4);
          answer(request, socket, served++);
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    for (const [name, value] of [['AWS_ACCESS_KEY_ID', saved.id], ['AWS_SECRET_ACCESS_KEY', saved.secret]] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });
  afterEach(() => {
    answer = ranged;
    connections = 0;
    served = 0;
  });

  const backend = (maxAttempts = 1) =>
    new S3Backend(
      { type: 's3', path: 's3://bucket/team', endpoint, region: 'us-east-1' },
      { maxAttempts, requestTimeoutMs: 5_000, idleTimeoutMs: 5_000, connectTimeoutMs: 5_000, retryBaseMs: 1, retryMaxMs: 1, listPageSize: 1000 },
    );

  it('reads ranges into the caller buffer, signed, one after another over one kept-alive connection', async () => {
    const requests: Array<Record<string, string>> = [];
    answer = (request, socket, n) => (requests.push(request.headers), ranged(request, socket, n));
    const s3 = backend();
    try {
      for (const offset of [0, 30_000, 99_990]) {
        const target = Buffer.alloc(20_000);
        const count = await s3.readInto('packs/ab/x', target, offset);
        expect(count).toBe(Math.min(20_000, OBJECT.length - offset));
        expect(target.subarray(0, count).equals(OBJECT.subarray(offset, offset + count))).toBe(true);
      }
      expect(connections).toBe(1);
      expect(requests[1]!.range).toBe('bytes=30000-49999');
      expect(requests[1]!.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/.*SignedHeaders=[^,]*\brange\b/);
    } finally {
      await s3.close();
    }
  });

  it('takes only the window it asked for from a server that sends more, and never writes past the buffer', async () => {
    // Asked for 10 bytes at 500, the server ignores Range and sends the whole object with 200.
    answer = (request, socket, n) => ranged({ ...request, headers: {} }, socket, n);
    const s3 = backend();
    try {
      const memory = Buffer.alloc(64, 0xee);
      const count = await s3.readInto('packs/ab/x', memory.subarray(0, 10), 500);
      expect(count).toBe(10);
      expect(memory.subarray(0, 10).equals(OBJECT.subarray(500, 510))).toBe(true);
      expect(memory.subarray(10).every((byte) => byte === 0xee)).toBe(true);
    } finally {
      await s3.close();
    }
  });

  it('reads an answer it does not parse (a chunked body) through the SDK path, bytes intact', async () => {
    answer = (_request, socket) => {
      const body = OBJECT.subarray(0, 1000);
      socket.write(`HTTP/1.1 206 OK\r\ntransfer-encoding: chunked\r\ncontent-range: bytes 0-999/${OBJECT.length}\r\n\r\n`);
      socket.write(`${body.length.toString(16)}\r\n`);
      socket.write(body);
      socket.write('\r\n0\r\n\r\n');
    };
    const s3 = backend();
    try {
      const target = Buffer.alloc(1000);
      expect(await s3.readInto('packs/ab/x', target, 0)).toBe(1000);
      expect(target.equals(OBJECT.subarray(0, 1000))).toBe(true);
    } finally {
      await s3.close();
    }
  });

  it('maps error answers as the SDK does: 404 is NotFoundError, others name the S3 code', async () => {
    const s3 = backend();
    try {
      answer = (_request, socket) => socket.write('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n');
      await expect(s3.readInto('packs/ab/gone', Buffer.alloc(10), 0)).rejects.toBeInstanceOf(NotFoundError);
      const xml = '<Error><Code>AccessDenied</Code><Message>no</Message></Error>';
      answer = (_request, socket) => socket.write(`HTTP/1.1 403 Forbidden\r\ncontent-length: ${xml.length}\r\n\r\n${xml}`);
      await expect(s3.readInto('packs/ab/x', Buffer.alloc(10), 0)).rejects.toThrow(/^access denied: cannot read s3:\/\/bucket\/team\/packs\/ab\/x$/);
    } finally {
      await s3.close();
    }
  });

  it('retries a body cut short by a closed connection, on a new connection', async () => {
    answer = (request, socket, n) => {
      if (n > 0) return ranged(request, socket, n);
      socket.write(`HTTP/1.1 206 OK\r\ncontent-length: 1000\r\ncontent-range: bytes 0-999/${OBJECT.length}\r\n\r\n`);
      socket.end(OBJECT.subarray(0, 400));
    };
    const s3 = backend(2);
    try {
      const target = Buffer.alloc(1000);
      expect(await s3.readInto('packs/ab/x', target, 0)).toBe(1000);
      expect(target.equals(OBJECT.subarray(0, 1000))).toBe(true);
      expect(connections).toBe(2);
    } finally {
      await s3.close();
    }
  });

  it('refuses a reply head that never ends instead of buffering it', async () => {
    answer = (_request, socket) => socket.write(`HTTP/1.1 206 OK\r\nx-filler: ${'a'.repeat(100_000)}`);
    const s3 = backend();
    try {
      await expect(s3.readInto('packs/ab/x', Buffer.alloc(10), 0)).rejects.toThrow();
    } finally {
      await s3.close();
    }
  });

  describe('RawGetter itself', () => {
    const getter = () => new RawGetter({ connectTimeoutMs: 5_000, idleTimeoutMs: 5_000, maxIdle: 4 });
    const request = (range: string) => {
      const { hostname, port } = new URL(endpoint);
      return new HttpRequest({ protocol: 'http:', hostname, port: Number(port), method: 'GET', path: '/bucket/k', headers: { host: `${hostname}:${port}`, range } });
    };
    const signal = () => new AbortController().signal;

    it('copies the body of a 206 into the buffer and keeps the connection for the next request', async () => {
      const raw = getter();
      try {
        for (const [first, size] of [[0, 5000], [70_000, 30_000]] as const) {
          const target = Buffer.alloc(size);
          const { head, copied } = await raw.get(request(`bytes=${first}-${first + size - 1}`), target, () => 0, signal());
          expect([head.status, copied]).toEqual([206, size]);
          expect(target.equals(OBJECT.subarray(first, first + size))).toBe(true);
        }
        expect(connections).toBe(1);
      } finally {
        raw.close();
      }
    });

    it('says RawUnsupported for a chunked body and for a head past 16 KiB, so the SDK path takes the read', async () => {
      const raw = getter();
      try {
        answer = (_request, socket) => socket.write('HTTP/1.1 206 OK\r\ntransfer-encoding: chunked\r\n\r\n');
        await expect(raw.get(request('bytes=0-9'), Buffer.alloc(10), () => 0, signal())).rejects.toBeInstanceOf(RawUnsupported);
        answer = (_request, socket) => socket.write(`HTTP/1.1 206 OK\r\nx-filler: ${'a'.repeat(100_000)}`);
        await expect(raw.get(request('bytes=0-9'), Buffer.alloc(10), () => 0, signal())).rejects.toBeInstanceOf(RawUnsupported);
      } finally {
        raw.close();
      }
    });

    it('ends the exchange when the attempt is aborted, for a server that never answers', async () => {
      answer = () => undefined;
      const raw = getter();
      const controller = new AbortController();
      try {
        const pending = raw.get(request('bytes=0-9'), Buffer.alloc(10), () => 0, controller.signal);
        controller.abort(new Error('attempt deadline'));
        await expect(pending).rejects.toThrow('attempt deadline');
      } finally {
        raw.close();
      }
    });
  });
});
