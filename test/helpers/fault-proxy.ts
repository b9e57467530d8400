// A TCP proxy on loopback that sits between an S3 client and a real S3 server and breaks the connection on demand:
// added latency, a bandwidth cap, a reset after N bytes, a stall (no more bytes, socket left open), refused
// connections (the port stops listening), 503 SlowDown answers for a share of requests, or a canned S3 error.
//
// It parses just enough HTTP/1.1 in the client-to-server direction (request heads and Content-Length) to know where
// each request starts, so it can answer a chosen request itself on a keep-alive connection. Node's HTTP agent never
// pipelines, so when a request head arrives the previous response has been fully delivered.
import { createServer, type Server, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** An S3 error response, as S3 documents it: status, XML body with Code and Message (plus fields), headers. */
export interface CannedAnswer {
  status: number;
  code: string;
  message: string;
  headers?: Record<string, string>;
  fields?: Record<string, string>;
}

export interface FaultKnobs {
  /** One-way delay added to every chunk, both directions. */
  latencyMs: number;
  /** Bandwidth cap per connection (both directions share it); 0 = none. */
  bytesPerSecond: number;
  /** Reset (TCP RST) a connection once this many bytes of one request and its response went through it... */
  resetAfterBytes?: number;
  /** ...for this many more connections. */
  resets: number;
  /** Stop forwarding after this many bytes of one request and its response, and leave the connection open... */
  stallAfterBytes?: number;
  /** ...for this many more connections. */
  stalls: number;
  /** Share (0..1) of requests answered `503 SlowDown` instead of forwarded, from a seeded generator. */
  slowDownRate: number;
  seed: number;
  /** Answer requests with this S3 error instead of forwarding them: every request, or those whose head matches. */
  answer?: CannedAnswer & { when?: RegExp };
}

export interface FaultStats {
  connections: number;
  requests: number;
  slowDowns: number;
  resets: number;
  stalls: number;
  /** Bytes the server sent towards clients (responses, headers included). */
  bytesDown: number;
}

export interface FaultProxy {
  endpoint: string;
  readonly stats: FaultStats;
  /** Changes knobs for what happens next; connections already faulted keep their fate. */
  set(knobs: Partial<FaultKnobs>): void;
  /** Closes the port (new connections are refused) and drops the open ones. */
  down(): Promise<void>;
  /** Listens again on the same port (nothing when already listening). */
  up(): Promise<void>;
  stop(): Promise<void>;
}

function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

function renderAnswer(answer: CannedAnswer, method: string): Buffer {
  const fields = Object.entries(answer.fields ?? {}).map(([k, v]) => `<${k}>${escapeXml(v)}</${k}>`).join('');
  const body =
    method === 'HEAD'
      ? ''
      : `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${answer.code}</Code><Message>${escapeXml(answer.message)}</Message>${fields}<RequestId>FAULTPROXY</RequestId></Error>`;
  const headers = { 'Content-Type': 'application/xml', ...answer.headers, 'Content-Length': String(Buffer.byteLength(body)), Connection: 'close' };
  const head = [`HTTP/1.1 ${answer.status} ${answer.code}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)].join('\r\n');
  return Buffer.from(`${head}\r\n\r\n${method === 'HEAD' ? '' : body}`);
}

const slowDown: CannedAnswer = { status: 503, code: 'SlowDown', message: 'Please reduce your request rate.' };

export async function startFaultProxy(target: { host: string; port: number }): Promise<FaultProxy> {
  const knobs: FaultKnobs = { latencyMs: 0, bytesPerSecond: 0, resets: 0, stalls: 0, slowDownRate: 0, seed: 1 };
  const stats: FaultStats = { connections: 0, requests: 0, slowDowns: 0, resets: 0, stalls: 0, bytesDown: 0 };
  let state = knobs.seed >>> 0;
  const random = () => {
    // mulberry32: reproducible runs for a given seed.
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const open = new Set<Socket>();

  const handle = (client: Socket) => {
    stats.connections++;
    const upstream = new Socket();
    upstream.connect(target.port, target.host);
    open.add(client).add(upstream);
    let moved = 0; // bytes of the current request and its response, both directions
    let fate: 'ok' | 'stalled' | 'closed' = 'ok';
    // The client sees a reset; the server gets every byte forwarded so far and then an early end of stream, as when
    // a client process dies mid-request, so what it stores is deterministic.
    const kill = () => {
      fate = 'closed';
      if (!client.destroyed) client.resetAndDestroy();
      upstream.end(() => upstream.destroy());
    };
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => (client.destroyed ? undefined : client.resetAndDestroy()));
    client.on('close', () => {
      open.delete(client);
      if (fate !== 'closed') upstream.destroy();
    });

    // Forwards a chunk after the configured delay, in order, applying the byte-count faults.
    let queue = Promise.resolve();
    let paced = 0; // when the bandwidth cap lets the next chunk go
    const forward = (to: Socket, chunk: Buffer) => {
      let due = Date.now() + knobs.latencyMs;
      if (knobs.bytesPerSecond > 0) {
        paced = Math.max(paced, Date.now()) + (chunk.length * 1000) / knobs.bytesPerSecond;
        due = Math.max(due, paced);
      }
      queue = queue.then(async () => {
        if (due > Date.now()) await sleep(due - Date.now());
        if (fate !== 'ok') return;
        // The knobs are read as the bytes pass, so they also hit keep-alive connections opened before a change.
        const resetAt = knobs.resets > 0 ? (knobs.resetAfterBytes ?? Infinity) : Infinity;
        const stallAt = knobs.stalls > 0 ? (knobs.stallAfterBytes ?? Infinity) : Infinity;
        const limit = Math.min(resetAt, stallAt);
        if (moved + chunk.length < limit) {
          moved += chunk.length;
          to.write(chunk);
          return;
        }
        to.write(chunk.subarray(0, Math.max(0, limit - moved)));
        moved = limit;
        if (limit === resetAt) {
          knobs.resets--;
          stats.resets++;
          kill();
        } else {
          knobs.stalls--;
          stats.stalls++;
          fate = 'stalled';
        }
      });
    };
    const newRequest = () => {
      queue = queue.then(() => void (moved = 0));
    };
    upstream.on('data', (chunk: Buffer) => {
      stats.bytesDown += chunk.length;
      forward(client, chunk);
    });
    upstream.on('close', () => {
      open.delete(upstream);
      // After the delayed chunks already queued; a stalled connection stays open until the client gives up.
      queue = queue.then(() => void (fate === 'ok' && client.end()));
    });

    // Request boundaries: `head` collects a request head; `bodyLeft` counts the body bytes still to pass.
    let head = Buffer.alloc(0);
    let bodyLeft = 0;
    let swallowing: Buffer | undefined; // the answer to send once the swallowed request body is complete
    let parsing = true; // false after a chunked request: boundaries are unknown, forward the rest as is
    const onRequestHead = (text: string): Buffer | undefined => {
      stats.requests++;
      const [method = 'GET'] = text.split(' ', 1);
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(text);
      bodyLeft = length ? Number(length[1]) : 0;
      if (/\r\ntransfer-encoding:/i.test(text)) parsing = false;
      let answer = knobs.answer && (!knobs.answer.when || knobs.answer.when.test(text)) ? knobs.answer : undefined;
      if (!answer && knobs.slowDownRate > 0 && random() < knobs.slowDownRate) {
        stats.slowDowns++;
        answer = slowDown;
      }
      if (!answer) return undefined;
      const rendered = renderAnswer(answer, method);
      // A client waiting for 100-continue sends no body after a final answer.
      if (/\r\nexpect:\s*100-continue/i.test(text)) bodyLeft = 0;
      return rendered;
    };
    const finishSwallow = () => {
      const answer = swallowing!;
      fate = 'closed';
      upstream.destroy();
      client.end(answer);
    };
    client.on('data', (chunk: Buffer) => {
      while (chunk.length > 0 && fate === 'ok') {
        if (!parsing) return forward(upstream, chunk);
        if (bodyLeft > 0 || swallowing) {
          const take = Math.min(bodyLeft, chunk.length);
          if (!swallowing) forward(upstream, chunk.subarray(0, take));
          bodyLeft -= take;
          chunk = chunk.subarray(take);
          if (swallowing && bodyLeft === 0) return finishSwallow();
          continue;
        }
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        const text = head.subarray(0, end + 4);
        chunk = head.subarray(end + 4);
        head = Buffer.alloc(0);
        swallowing = onRequestHead(text.toString('latin1'));
        if (!swallowing) {
          newRequest();
          forward(upstream, text);
        }
        else if (bodyLeft === 0) return finishSwallow();
      }
    });
  };

  let server: Server = createServer(handle);
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
    });
  const port = await listen(0);
  const close = async () => {
    for (const socket of open) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stats,
    set(changes) {
      Object.assign(knobs, changes);
      if (changes.seed !== undefined) state = changes.seed >>> 0;
    },
    down: close,
    async up() {
      if (server.listening) return;
      server = createServer(handle);
      await listen(port);
    },
    stop: close,
  };
}

/** A loopback port with nothing listening on it (connections are refused). */
export async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}
