// A signed GET over plain HTTP whose body goes straight into the caller's buffer. Node's HTTP client hands every
// 64 KiB a socket reads to a new Buffer, the parser and a stream, and then we copy it again into the chunk buffer:
// pulling from radosgw on loopback spent about three times the CPU here that the bytes' own copy costs (those
// allocations, the collector that frees them, stream bookkeeping). This reader lets the kernel write into one reused
// buffer per socket (net's `onread`) and copies each piece once, into its place.
//
// It handles only the plain answers an object server gives a GET: HTTP/1.1 with a Content-Length. Anything else
// (chunked bodies, no length, informational replies, an oversized head) is `RawUnsupported`, and the caller sends the
// request again through the SDK's handler. Every guarantee of that path holds here: the attempt's signal ends the
// exchange, a connection idle for idleTimeoutMs or not connected within connectTimeoutMs is dropped (retryable), a
// body shorter than its length is a TruncatedBody to retry, bytes past the caller's window end the read, and error
// bodies are read up to 64 KiB.
import { connect, type Socket } from 'node:net';
import type { HttpRequest } from '@smithy/core/protocols';

/** An answer this reader does not parse; the same request goes through the SDK's handler instead. */
export class RawUnsupported extends Error {}

class NetworkFailure extends Error {
  constructor(
    message: string,
    readonly code: 'ECONNRESET' | 'ETIMEDOUT',
  ) {
    super(message);
    this.name = code === 'ETIMEDOUT' ? 'TimeoutError' : 'TruncatedBody';
  }
}

/** What the server said before the body: status, lowercased headers, and the body's length. */
export interface ReplyHead {
  status: number;
  headers: Record<string, string>;
  length: number;
}

/** A reply's head is a few hundred bytes; one that does not end within this is not an object server's. */
const MAX_HEAD_BYTES = 16 * 1024;
/** Each socket reads into one buffer of this size, reused for every read. */
const READ_BUFFER_BYTES = 128 * 1024;
const MAX_ERROR_BODY_BYTES = 64 * 1024;

/** The head of a reply from its bytes, or undefined while its end has not arrived. */
export function parseHead(bytes: Buffer): { head: ReplyHead; bodyStart: number } | undefined {
  const end = bytes.indexOf('\r\n\r\n');
  if (end < 0) {
    if (bytes.length > MAX_HEAD_BYTES) throw new RawUnsupported(`reply head longer than ${MAX_HEAD_BYTES} bytes`);
    return undefined;
  }
  const [statusLine, ...lines] = bytes.subarray(0, end).toString('latin1').split('\r\n');
  const status = /^HTTP\/1\.1 ([2-5]\d\d) /.exec(`${statusLine} `);
  if (!status) throw new RawUnsupported(`status line ${JSON.stringify(statusLine?.slice(0, 40))}`);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new RawUnsupported('a header line without a name');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name in headers && headers[name] !== value) throw new RawUnsupported(`two different ${name} headers`);
    headers[name] = value;
  }
  const length = headers['content-length'];
  if (headers['transfer-encoding'] !== undefined || length === undefined || !/^\d{1,15}$/.test(length)) {
    throw new RawUnsupported('a reply without a plain Content-Length');
  }
  return { head: { status: Number(status[1]), headers, length: Number(length) }, bodyStart: end + 4 };
}

/** Where one exchange's body bytes go; the socket hands it every piece it reads until the exchange is over. */
interface Exchange {
  take(piece: Buffer): void;
  fail(error: Error): void;
}

interface PooledSocket {
  socket: Socket;
  exchange?: Exchange;
}

export interface RawGetOptions {
  connectTimeoutMs: number;
  idleTimeoutMs: number;
  /** Idle connections kept open for the next request. */
  maxIdle: number;
}

/** Kept-alive connections to one or more plain-HTTP endpoints, each reading into its own reused buffer. */
export class RawGetter {
  private readonly idle = new Map<string, PooledSocket[]>();

  constructor(private readonly options: RawGetOptions) {}

  /**
   * Sends `request` and copies body bytes [skip, skip + target.length) into `target`; `skipFor` picks `skip` from
   * the reply's head (a server that ignores Range sends the object from its start). Resolves with the head and how
   * many bytes were copied; an answer of 300 or more resolves with the first 64 KiB of its body as `errorText`.
   */
  get(request: HttpRequest, target: Uint8Array, skipFor: (head: ReplyHead) => number, signal: AbortSignal): Promise<{ head: ReplyHead; copied: number; errorText?: string }> {
    const endpoint = `${request.hostname}:${request.port ?? 80}`;
    const pooled = this.takeIdle(endpoint) ?? this.open(request.hostname, request.port ?? 80);
    return new Promise((resolve, reject) => {
      let pending = Buffer.alloc(0);
      let reply: { head: ReplyHead; skip: number } | undefined;
      let seen = 0;
      let copied = 0;
      const errorPieces: Buffer[] = [];
      const finish = (reuse: boolean) => {
        pooled.exchange = undefined;
        signal.removeEventListener('abort', onAbort);
        if (reuse && reply!.head.headers.connection?.toLowerCase() !== 'close') this.putIdle(endpoint, pooled);
        else pooled.socket.destroy();
        const errorText = reply!.head.status >= 300 ? Buffer.concat(errorPieces).toString('utf8') : undefined;
        resolve({ head: reply!.head, copied, errorText });
      };
      const fail = (error: Error) => {
        pooled.exchange = undefined;
        signal.removeEventListener('abort', onAbort);
        pooled.socket.destroy();
        reject(error);
      };
      const onAbort = () => fail(signal.reason as Error);
      const body = (piece: Buffer) => {
        const { head, skip } = reply!;
        const room = head.length - seen;
        if (piece.length > room) return fail(new RawUnsupported('bytes past the announced body'));
        if (head.status >= 300) {
          if (seen < MAX_ERROR_BODY_BYTES) errorPieces.push(Buffer.from(piece.subarray(0, MAX_ERROR_BODY_BYTES - seen)));
        } else {
          const window = skip + target.length;
          const from = Math.max(skip, seen);
          const to = Math.min(window, seen + piece.length);
          if (to > from) {
            target.set(piece.subarray(from - seen, to - seen), from - skip);
            copied = to - skip;
          }
          // Bytes past the window are not ours to take: the read ends there and the connection is dropped.
          if (seen + piece.length > window) return (seen += piece.length), finish(false);
        }
        seen += piece.length;
        if (seen === head.length) finish(head.status < 300);
        else if (head.status >= 300 && seen >= MAX_ERROR_BODY_BYTES) finish(false);
      };
      pooled.exchange = {
        take: (piece) => {
          if (reply) return body(piece);
          pending = Buffer.concat([pending, piece]);
          let parsed: ReturnType<typeof parseHead>;
          try {
            parsed = parseHead(pending);
          } catch (error) {
            return fail(error as Error);
          }
          if (!parsed) return;
          reply = { head: parsed.head, skip: skipFor(parsed.head) };
          const rest = pending.subarray(parsed.bodyStart);
          pending = Buffer.alloc(0);
          if (rest.length > 0) body(rest);
          else if (reply.head.length === 0) finish(reply.head.status < 300);
        },
        fail,
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      try {
        pooled.socket.write(requestText(request));
      } catch (error) {
        fail(error as Error);
      }
    });
  }

  /** Closes every idle connection. */
  close(): void {
    for (const sockets of this.idle.values()) for (const pooled of sockets) pooled.socket.destroy();
    this.idle.clear();
  }

  private takeIdle(endpoint: string): PooledSocket | undefined {
    const pooled = this.idle.get(endpoint)?.pop();
    pooled?.socket.ref();
    return pooled;
  }

  private putIdle(endpoint: string, pooled: PooledSocket): void {
    const sockets = this.idle.get(endpoint) ?? [];
    if (sockets.length >= this.options.maxIdle) return void pooled.socket.destroy();
    // Like Node's agent: an idle connection does not keep the process alive.
    pooled.socket.unref();
    sockets.push(pooled);
    this.idle.set(endpoint, sockets);
  }

  private forget(pooled: PooledSocket): void {
    for (const sockets of this.idle.values()) {
      const at = sockets.indexOf(pooled);
      if (at >= 0) sockets.splice(at, 1);
    }
  }

  private open(host: string, port: number): PooledSocket {
    const pooled: PooledSocket = { socket: undefined as unknown as Socket };
    const socket = connect({
      host,
      port,
      noDelay: true,
      onread: {
        buffer: Buffer.allocUnsafe(READ_BUFFER_BYTES),
        callback: (bytes, buffer) => {
          // A server speaking while no request waits is not following HTTP: drop the connection.
          if (pooled.exchange) pooled.exchange.take(Buffer.from(buffer.buffer, buffer.byteOffset, bytes));
          else socket.destroy();
          return true;
        },
      },
    });
    pooled.socket = socket;
    const connectTimer = setTimeout(() => socket.destroy(new NetworkFailure(`no connection within ${this.options.connectTimeoutMs} ms`, 'ETIMEDOUT')), this.options.connectTimeoutMs);
    socket.once('connect', () => clearTimeout(connectTimer));
    socket.setTimeout(this.options.idleTimeoutMs, () => socket.destroy(new NetworkFailure(`no byte for ${this.options.idleTimeoutMs} ms`, 'ETIMEDOUT')));
    socket.on('error', (error) => pooled.exchange?.fail(error));
    socket.on('close', () => {
      clearTimeout(connectTimer);
      this.forget(pooled);
      pooled.exchange?.fail(new NetworkFailure('the connection closed before the reply ended', 'ECONNRESET'));
    });
    return pooled;
  }
}

/** The request line and headers; the signed request's header values are ours (no line breaks can be in them). */
function requestText(request: HttpRequest): string {
  if (Object.keys(request.query ?? {}).length > 0) throw new RawUnsupported('a request with a query');
  const headers = Object.entries(request.headers).map(([name, value]) => `${name}: ${value}\r\n`);
  return `GET ${request.path} HTTP/1.1\r\n${headers.join('')}\r\n`;
}
