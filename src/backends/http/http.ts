import { IntegrityError, NotFoundError, StorageError, UsageError } from '../../lib/errors.js';
import { keySegments } from '../key-segments.js';
import { httpSettings } from '../../settings/http.js';
import { MAX_OBJECT_BYTES, objectTooLarge, type Backend, type ObjectInfo } from '../backend.js';
import { closeAgents, readBody, send, type HttpReply } from './http-request.js';

// A repository folder published by any static web server (nginx, a public bucket's website, `python3 -m
// http.server`): read-only, and unable to list. Every reply is hostile: its status, Content-Length and
// Content-Range are checked against what was asked before a byte is used, and a server that ignores Range (200
// instead of 206) is read from the start with the bytes before the offset skipped.

const NOT_FOUND = new Set([404, 410]);

export class HttpBackend implements Backend {
  readonly location: string;
  /** Static servers cannot list a folder: core reads models, tags and chunk locations from index files instead. */
  readonly listable = false;
  private readonly base: URL;
  private readonly idleTimeoutMs: number;

  constructor(url: string, private readonly name?: string) {
    this.base = new URL(url.endsWith('/') ? url : `${url}/`);
    this.location = this.base.href;
    this.idleTimeoutMs = httpSettings().idleTimeoutMs;
  }

  /** The key's URL under the base; a `.`, `..` or empty segment would resolve elsewhere on the server, so never. */
  private urlOf(key: string): URL {
    return new URL(keySegments(key, this.location).map(encodeURIComponent).join('/'), this.base);
  }

  private async fetch(key: string, method: 'GET' | 'HEAD', range?: string): Promise<HttpReply | undefined> {
    const reply = await send(this.urlOf(key), { method, range, idleTimeoutMs: this.idleTimeoutMs });
    if (NOT_FOUND.has(reply.status)) {
      reply.body.destroy();
      return undefined;
    }
    if (reply.status === 200 || reply.status === 206 || reply.status === 416) return reply;
    reply.body.destroy();
    throw new StorageError(`${reply.url.href} answered HTTP ${reply.status}`, {
      hint: reply.status === 401 || reply.status === 403 ? 'the server refuses access: publish the folder publicly' : 'check the server and the repository url; try again later',
    });
  }

  private notFound(key: string): NotFoundError {
    return new NotFoundError(`${key} not found in ${this.location}`);
  }

  /** The announced Content-Length, refused before reading when more than `maxBytes`. */
  private announcedLength(reply: HttpReply, key: string, maxBytes: number): number | undefined {
    const header = reply.headers['content-length'];
    if (header === undefined) return undefined;
    const length = /^\d{1,16}$/.test(header) ? Number(header) : NaN;
    if (!Number.isSafeInteger(length)) throw this.bad(reply, key, `a Content-Length of ${JSON.stringify(header)}`);
    if (length > maxBytes) {
      reply.body.destroy();
      throw objectTooLarge(this.location, key, length, maxBytes);
    }
    return length;
  }

  private bad(reply: HttpReply, key: string, what: string): IntegrityError {
    reply.body.destroy();
    return new IntegrityError(`${reply.url.href} (${key}) answered with ${what}; not using it`, {
      hint: 'the server or something in front of it (a proxy, a cache) sends broken replies: fix it, or use another mirror',
    });
  }

  async probe(mode: 'read' | 'write'): Promise<void> {
    if (mode === 'write') throw this.readOnly();
    const reply = await this.fetch('index.json', 'HEAD');
    if (!reply) throw new NotFoundError(`${this.location} has no index.json`, { hint: 'check the url points at the published repository folder (the one holding index.json and aim-repo.json)' });
    reply.body.destroy();
  }

  async get(key: string, maxBytes = MAX_OBJECT_BYTES): Promise<Buffer> {
    const reply = await this.fetch(key, 'GET');
    if (!reply) throw this.notFound(key);
    if (reply.status !== 200) throw this.bad(reply, key, `HTTP ${reply.status} to a request for the whole object`);
    const announced = this.announcedLength(reply, key, maxBytes);
    const body = await readBody(reply, 0, maxBytes, () => objectTooLarge(this.location, key, announced, maxBytes));
    if (announced !== undefined && body.length !== announced) throw this.bad(reply, key, `${body.length} bytes where it announced ${announced}`);
    return body;
  }

  async getRange(key: string, offset: number, length: number): Promise<Buffer> {
    if (length <= 0) return Buffer.alloc(0);
    const reply = await this.fetch(key, 'GET', `bytes=${offset}-${offset + length - 1}`);
    if (!reply) throw this.notFound(key);
    if (reply.status === 416) {
      reply.body.destroy();
      return Buffer.alloc(0);
    }
    if (reply.status === 200) return this.skipTo(reply, key, offset, length);
    const range = /^bytes (\d{1,16})-(\d{1,16})\/(\d{1,16}|\*)$/.exec(reply.headers['content-range'] ?? '');
    const [first, last] = range ? [Number(range[1]), Number(range[2])] : [NaN, NaN];
    if (!range || first !== offset || last < first || last > offset + length - 1) {
      throw this.bad(reply, key, `Content-Range ${JSON.stringify(reply.headers['content-range'] ?? '')} for bytes ${offset}-${offset + length - 1}`);
    }
    const expected = last - first + 1;
    this.announcedLength(reply, key, expected);
    const body = await readBody(reply, 0, expected, () => this.bad(reply, key, `more than the ${expected} bytes its Content-Range names`));
    if (body.length !== expected) throw this.bad(reply, key, `${body.length} bytes where its Content-Range names ${expected}`);
    return body;
  }

  /** A server that ignores Range sends the whole object: the bytes before `offset` are read and dropped. */
  private async skipTo(reply: HttpReply, key: string, offset: number, length: number): Promise<Buffer> {
    this.announcedLength(reply, key, MAX_OBJECT_BYTES * 64);
    return readBody(reply, offset, length);
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    const reply = await this.fetch(key, 'HEAD');
    if (!reply) return undefined;
    reply.body.destroy();
    const size = this.announcedLength(reply, key, Number.MAX_SAFE_INTEGER);
    if (size === undefined) throw this.bad(reply, key, 'no Content-Length to a HEAD request');
    return { key, size };
  }

  private readOnly(): UsageError {
    return new UsageError(`repository ${this.name ?? this.location} is read-only (type http)`, {
      hint: 'push to the repository the web server publishes (a local folder or S3), then copy or sync it to the server',
    });
  }

  async putIfAbsent(): Promise<boolean> {
    throw this.readOnly();
  }

  async put(): Promise<void> {
    throw this.readOnly();
  }

  async delete(): Promise<void> {
    throw this.readOnly();
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    throw new UsageError(`${this.location} is a static web server, which cannot list ${prefix || 'its files'}`, {
      hint: 'this needs a repository aim can list: run the command on the repository the server publishes',
    });
  }

  async close(): Promise<void> {
    closeAgents();
  }
}
