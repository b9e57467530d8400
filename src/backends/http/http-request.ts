import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { AimError, StorageError } from '../../lib/errors.js';

// One GET or HEAD against a static web server, with everything a hostile or broken server could do bounded here:
// redirects (at most MAX_REDIRECTS, http(s) only), a server that stops sending (idle timeout) or trickles (fewer
// than MIN_BYTES_PER_WINDOW per idle timeout, which no real network is: a slow-loris server would otherwise hold a
// read open for ever one byte at a time), a body cut short, and bodies (the caller's consumer decides how many bytes
// it takes and the rest is never read).

export const MAX_REDIRECTS = 5;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
export const MIN_BYTES_PER_WINDOW = 1024;

export interface HttpReply {
  status: number;
  headers: IncomingHttpHeaders;
  /** The final URL, after redirects, for messages. */
  url: URL;
  body: IncomingMessage;
  idleTimeoutMs: number;
  /** Why the body stopped when the idle timer ended it (Node then reports only "aborted"). */
  stalled(): StorageError | undefined;
}

export interface RequestOptions {
  method: 'GET' | 'HEAD';
  range?: string;
  idleTimeoutMs: number;
}

const agents = { http: new HttpAgent({ keepAlive: true, maxSockets: 16 }), https: new HttpsAgent({ keepAlive: true, maxSockets: 16 }) };

export function closeAgents(): void {
  agents.http.destroy();
  agents.https.destroy();
}

type Sent = { body: IncomingMessage; stalled(): StorageError | undefined };

function once(url: URL, options: RequestOptions): Promise<Sent> {
  return new Promise((resolve, reject) => {
    let stall: StorageError | undefined;
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const headers: Record<string, string> = { 'accept-encoding': 'identity' };
    if (options.range) headers.range = options.range;
    const request = send(url, { method: options.method, headers, agent: url.protocol === 'https:' ? agents.https : agents.http });
    request.setTimeout(options.idleTimeoutMs, () => {
      stall = new StorageError(`${url.origin} sent nothing for ${options.idleTimeoutMs} ms (${url.pathname})`, {
        hint: 'check the server is up and reachable; AIM_HTTP_IDLE_TIMEOUT_MS sets how long to wait',
      });
      request.destroy(stall);
    });
    request.on('response', (reply) => {
      // The idle timer keeps running while the body streams: a server that stalls mid-body fails the same way.
      reply.on('error', () => undefined);
      resolve({ body: reply, stalled: () => stall });
    });
    request.on('error', (error) => reject(error instanceof StorageError ? error : new StorageError(`cannot reach ${url.origin}: ${error.message}`, {
      hint: 'check the repository url in model_repos.yaml and that the server is up', cause: error,
    })));
    request.end();
  });
}

/** The reply to `url` after at most MAX_REDIRECTS redirects. The caller consumes or destroys `body`. */
export async function send(url: URL, options: RequestOptions): Promise<HttpReply> {
  let current = url;
  for (let hops = 0; ; hops++) {
    const { body, stalled } = await once(current, options);
    const status = body.statusCode ?? 0;
    if (!REDIRECTS.has(status)) return { status, headers: body.headers, url: current, body, idleTimeoutMs: options.idleTimeoutMs, stalled };
    body.destroy();
    const target = body.headers.location && URL.canParse(body.headers.location, current) ? new URL(body.headers.location, current) : undefined;
    if (!target || (target.protocol !== 'http:' && target.protocol !== 'https:')) {
      throw new StorageError(`${current.href} redirects to ${JSON.stringify(body.headers.location ?? '')}, which is not an http(s) URL`, {
        hint: 'fix the server configuration, or the repository url',
      });
    }
    // The repository url said https: a redirect may move to another host, never drop the encryption on the way.
    if (current.protocol === 'https:' && target.protocol === 'http:') {
      throw new StorageError(`${current.href} redirects to ${target.href}, from https to plain http; not following it`, {
        hint: 'fix the server to redirect to an https address, or give the repository url the server really serves',
      });
    }
    if (hops >= MAX_REDIRECTS) {
      throw new StorageError(`${url.href} redirects more than ${MAX_REDIRECTS} times`, { hint: 'the server has a redirect loop: fix its configuration, or point the repository url at the final address' });
    }
    current = target;
  }
}

/**
 * Up to `limit` bytes of `reply`'s body, after skipping `skip` bytes. Without `onTooLong` the connection is dropped
 * as soon as enough has arrived (a server ignoring Range sends the whole object); with it, a body holding more than
 * skip + limit bytes is refused with its error, as soon as the first byte too many arrives. A body that stalls,
 * trickles or is cut short is a StorageError naming the URL.
 */
export async function readBody(reply: HttpReply, skip: number, limit: number, onTooLong?: () => Error): Promise<Buffer> {
  const parts: Buffer[] = [];
  const pace = new Pace(reply);
  let seen = 0;
  let kept = 0;
  try {
    for await (const chunk of reply.body as AsyncIterable<Buffer>) {
      pace.arrived(chunk.length);
      const start = Math.max(0, skip - seen);
      seen += chunk.length;
      if (start >= chunk.length) continue;
      const wanted = Math.min(chunk.length - start, limit - kept);
      if (wanted < chunk.length - start && onTooLong) throw onTooLong();
      if (wanted > 0) parts.push(chunk.subarray(start, start + wanted));
      kept += wanted;
      if (kept >= limit && !onTooLong) break;
    }
  } catch (error) {
    if (error instanceof AimError) throw error;
    throw reply.stalled() ?? new StorageError(`${reply.url.href} closed the connection after ${seen} bytes of its body`, {
      hint: 'the server or something in front of it cut the reply short: try again, or check the server', cause: error,
    });
  } finally {
    reply.body.destroy();
  }
  return Buffer.concat(parts, kept);
}

/** Fails a body that sends fewer than MIN_BYTES_PER_WINDOW bytes in an idle-timeout window while still sending. */
class Pace {
  private windowStart = Date.now();
  private windowBytes = 0;

  constructor(private readonly reply: HttpReply) {}

  arrived(bytes: number): void {
    this.windowBytes += bytes;
    const now = Date.now();
    if (now - this.windowStart < this.reply.idleTimeoutMs) return;
    if (this.windowBytes < MIN_BYTES_PER_WINDOW) {
      throw new StorageError(`${this.reply.url.href} sent ${this.windowBytes} bytes in ${now - this.windowStart} ms, slower than any real network (at least ${MIN_BYTES_PER_WINDOW} bytes per ${this.reply.idleTimeoutMs} ms)`, {
        hint: 'the server trickles its reply: check it and what is in front of it; AIM_HTTP_IDLE_TIMEOUT_MS sets the window',
      });
    }
    this.windowStart = now;
    this.windowBytes = 0;
  }
}
