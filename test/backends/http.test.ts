// The http backend against a real local web server that records what it is asked: a key that would resolve outside
// the repository's folder (`..`, `.`, empty segments) is refused before any request, an encoded `%2e%2e` or a
// backslash stays a literal name inside the folder, and a 206 or 416 to a request without Range is a damaged reply,
// not "not found".
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpBackend } from '../../src/backends/http/http.js';
import { IntegrityError, NotFoundError } from '../../src/lib/errors.js';
import { startStaticServer, type StaticServer } from '../e2e/http-repo-server.js';

/** What `promise` rejects with (undefined when it resolves). */
const thrown = (promise: Promise<unknown>): Promise<unknown> => promise.then(() => undefined, (error: unknown) => error);

describe('http backend keys and replies', () => {
  let root: string;
  let server: StaticServer;
  let backend: HttpBackend;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'aim-http-'));
    await mkdir(join(root, 'repo'));
    await writeFile(join(root, 'secret'), 'outside the repository');
    await writeFile(join(root, 'repo', 'index.json'), '{}');
    server = await startStaticServer(root);
    backend = new HttpBackend(`${server.url}repo/`);
  });
  afterAll(async () => {
    await backend?.close();
    await server?.close();
    await rm(root, { recursive: true, force: true });
  });

  it.each(['../secret', 'a/../../secret', './index.json', 'a//b', '/secret', 'models/..'])('refuses the key %j without asking the server', async (key) => {
    server.seen.length = 0;
    for (const read of [() => backend.get(key), () => backend.getRange(key, 0, 4), () => backend.stat(key)]) {
      const error = await thrown(read());
      expect(error).toBeInstanceOf(IntegrityError);
      expect((error as Error).message).toContain('is not a key inside');
    }
    expect(server.seen).toEqual([]);
  });

  it.each(['%2e%2e/secret', '..\\secret', '%2E%2E%2Fsecret'])('asks for %j as a literal name inside the folder', async (key) => {
    server.seen.length = 0;
    expect(await thrown(backend.get(key))).toBeInstanceOf(NotFoundError);
    expect(server.seen.map((request) => request.path)).toEqual([`/repo/${key}`]);
  });

  it.each([206, 416])('a %i to a request for a whole object is a damaged reply, not a missing one', async (status) => {
    server.misbehave((request, response) => {
      response.writeHead(status, { 'content-range': 'bytes 0-1/2' }).end('{}');
      return true;
    });
    try {
      const error = await thrown(backend.get('index.json'));
      expect(error).toBeInstanceOf(IntegrityError);
      expect((error as Error).message).toContain(`HTTP ${status} to a request for the whole object`);
    } finally {
      server.misbehave(undefined);
    }
  });
});
