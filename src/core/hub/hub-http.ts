// Requests to the Hugging Face hub (HF_ENDPOINT) as huggingface_hub makes them: a Bearer HF_TOKEN, redirects
// followed by hand (resolve/main/FILE answers 302 to a CDN), and the token sent to the endpoint's own origin only,
// never to a CDN or any other host a redirect names (requests, under huggingface_hub, drops Authorization when a
// redirect changes host; we do the same per hop). Every reply is hostile: a deadline for the headers, an idle
// deadline between body bytes, a size cap on JSON, a bounded number of redirects.
import * as v from 'valibot';
import { ConfigError, NotFoundError, StorageError } from '../../lib/errors.js';
import type { HubEnv } from '../../settings/hub.js';

const MAX_REDIRECTS = 5;

export interface HubLimits {
  /** How long a server may take to send its status and headers. */
  headersTimeoutMs: number;
  /** A body that sends nothing for this long is abandoned: a stalled CDN must not hang `aim run`. */
  idleTimeoutMs: number;
  /** Largest JSON reply read (a model listing with thousands of files is well under it). */
  maxJsonBytes: number;
}

const DEFAULT_LIMITS: HubLimits = { headersTimeoutMs: 30_000, idleTimeoutMs: 60_000, maxJsonBytes: 16 * 1024 * 1024 };

export interface HubReply {
  status: number;
  headers: Headers;
  body: ReadableStream<Uint8Array> | null;
  /** The URL that answered, after redirects. */
  url: URL;
  /** Aborts the exchange (the body read included). */
  abort: () => void;
  idleTimeoutMs: number;
}

export class HubHttp {
  private readonly origin: string;
  readonly limits: HubLimits;

  constructor(readonly env: HubEnv, limits: Partial<HubLimits> = {}) {
    this.origin = new URL(env.endpoint).origin;
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  url(path: string): URL {
    return new URL(`${this.env.endpoint}${path}`);
  }

  /** GET `url`, following at most a few redirects by hand; the token goes only to the endpoint's origin. */
  async get(start: URL, headers: Record<string, string> = {}): Promise<HubReply> {
    let url = start;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), this.limits.headersTimeoutMs);
      const sent = { ...headers, ...(this.env.token && url.origin === this.origin ? { authorization: `Bearer ${this.env.token}` } : {}) };
      let reply: Response;
      try {
        reply = await fetch(url, { headers: sent, redirect: 'manual', signal: controller.signal });
      } catch (error) {
        const why = controller.signal.aborted ? `no reply within ${this.limits.headersTimeoutMs / 1000} s` : (error as Error).message;
        throw new StorageError(`${url.origin} did not answer GET ${url.pathname} (${why})`, {
          hint: 'check the network (or HF_ENDPOINT) and run the command again: what was downloaded is kept',
        });
      } finally {
        clearTimeout(timer);
      }
      const location = reply.headers.get('location');
      if (reply.status >= 300 && reply.status < 400 && location) {
        await reply.body?.cancel();
        url = new URL(location, url);
        if (url.protocol !== 'https:' && url.protocol !== 'http:') break;
        continue;
      }
      return { status: reply.status, headers: reply.headers, body: reply.body, url, abort: () => controller.abort(), idleTimeoutMs: this.limits.idleTimeoutMs };
    }
    throw new StorageError(`${start.origin}${start.pathname} redirected more than ${MAX_REDIRECTS} times, or to a URL that is not http(s)`, {
      hint: 'check HF_ENDPOINT; the hub answers with one redirect to its CDN',
    });
  }

  /** GET a JSON reply of `schema`'s shape, read within the size cap. */
  async json<S extends v.GenericSchema>(path: string, schema: S, what: string): Promise<v.InferOutput<S>> {
    const reply = await this.get(this.url(path), { accept: 'application/json' });
    this.checkStatus(reply, what);
    const text = await readCapped(reply, this.limits.maxJsonBytes);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw unexpected(reply.url, 'the body is not valid JSON');
    }
    const result = v.safeParse(schema, json);
    if (!result.success) throw unexpected(reply.url, `${result.issues[0].message} at ${v.getDotPath(result.issues[0]) ?? 'the top'}`);
    return result.output;
  }

  /** Turns the hub's refusals into plain errors naming what to do; returns for 2xx. */
  checkStatus(reply: HubReply, what: string): void {
    if (reply.status >= 200 && reply.status < 300) return;
    void reply.body?.cancel().catch(() => undefined);
    if (reply.status === 401 || reply.status === 403) {
      throw new ConfigError(`the Hugging Face hub refused ${what} (HTTP ${reply.status}): the repository is gated or private`, {
        hint: this.env.token ? `the token from ${this.env.tokenSource} is not accepted for it: accept the model's terms on its page with that account, or use another token`
          : `set HF_TOKEN, or write the token to ${this.env.tokenSource} (\`huggingface-cli login\` does), for an account that has accepted the model's terms (https://huggingface.co/settings/tokens)`,
      });
    }
    if (reply.status === 404) {
      throw new NotFoundError(`${what} was not found on ${this.env.endpoint} (HTTP 404)`, { hint: 'check the name: hf.co/ORG/REPO is the repository\'s page address' });
    }
    throw new StorageError(`the Hugging Face hub answered ${what} with HTTP ${reply.status}`, { hint: 'try again later: what was downloaded is kept' });
  }
}

function unexpected(url: URL, why: string): StorageError {
  return new StorageError(`${url.origin}${url.pathname} answered with an unexpected reply: ${why}`, {
    hint: 'HF_ENDPOINT must name the Hugging Face hub or a mirror of its API',
  });
}

/** Reads a whole body, abandoning it past `max` bytes or when it goes quiet. */
async function readCapped(reply: HubReply, max: number): Promise<string> {
  const parts: Uint8Array[] = [];
  let total = 0;
  for await (const part of idleBounded(reply)) {
    total += part.byteLength;
    if (total > max) {
      reply.abort();
      throw unexpected(reply.url, `the reply is larger than ${max} bytes`);
    }
    parts.push(part);
  }
  return Buffer.concat(parts).toString('utf8');
}

/** The body's parts; the exchange is aborted when no byte arrives for the reply's idle timeout. */
export async function* idleBounded(reply: HubReply): AsyncGenerator<Uint8Array> {
  if (!reply.body) return;
  const reader = reply.body.getReader();
  let timer: NodeJS.Timeout | undefined;
  try {
    for (;;) {
      const idle = new Promise<never>((_, reject) => {
        // Rejected before the abort, so the race settles on this reason rather than on the aborted read's.
        timer = setTimeout(() => {
          reject(new StorageError(`${reply.url.origin} sent nothing for ${reply.idleTimeoutMs / 1000} s`, { hint: 'run the command again: it resumes where the download stopped' }));
          reply.abort();
        }, reply.idleTimeoutMs);
      });
      const next = await Promise.race([reader.read(), idle]).catch((error: unknown) => {
        if (error instanceof StorageError) throw error;
        throw new StorageError(`the download from ${reply.url.origin} broke off (${(error as Error).message})`, { hint: 'run the command again: it resumes where the download stopped' });
      });
      clearTimeout(timer);
      if (next.done) return;
      yield next.value;
    }
  } finally {
    clearTimeout(timer);
    reader.releaseLock();
  }
}
