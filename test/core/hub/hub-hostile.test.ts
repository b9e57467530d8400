// The hub's replies are hostile: each case is a real HTTP server on loopback answering one way a broken or lying
// hub (or HF_ENDPOINT pointing at the wrong thing) could, and each must end in one plain AimError, promptly, with
// nothing outside the partial file written and nothing kept that did not check out.
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { listHubFiles } from '../../../src/core/hub/hub-api.js';
import { downloadHubFile } from '../../../src/core/hub/hub-download.js';
import { HubHttp } from '../../../src/core/hub/hub-http.js';
import { ConflictError, IntegrityError, StorageError } from '../../../src/lib/errors.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
let handler: Handler;
let server: Server;
let endpoint: string;
let dir: string;
const open: ServerResponse[] = [];
const task = { advance() {}, end() {} };
const data = Buffer.from('GGUF'.repeat(4096));
const file = { name: 'm-q8_0.gguf', size: data.length, sha256: createHash('sha256').update(data).digest('hex') };

beforeAll(async () => {
  server = createServer((req, res) => handler(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  for (const res of open) res.destroy();
  await new Promise((r) => { server.closeAllConnections(); server.close(r); });
});
beforeEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = await mkdtemp(join(tmpdir(), 'aim-hub-'));
});

const http = (limits = {}) => new HubHttp({ endpoint }, limits);
const json = (body: string) => (_req: IncomingMessage, res: ServerResponse) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(body);
};
async function failure(promise: Promise<unknown>): Promise<Error> {
  return promise.then(() => { throw new Error('expected a failure'); }, (error: Error) => error);
}

describe('model info', () => {
  it.each([
    ['not JSON', '<html>rate limited</html>', /not valid JSON/],
    ['no siblings', '{"id":"a/b"}', /unexpected reply.*siblings/],
    ['an lfs sha256 that is not hex', '{"siblings":[{"rfilename":"x.gguf","lfs":{"sha256":"../../etc","size":1}}]}', /unexpected reply/],
    ['a negative size', '{"siblings":[{"rfilename":"x.gguf","size":-5}]}', /unexpected reply/],
  ])('%s is refused', async (_label, body, message) => {
    handler = json(body);
    const error = await failure(listHubFiles(http(), 'a/b'));
    expect(error).toBeInstanceOf(StorageError);
    expect(error.message).toMatch(message);
  });

  it.each(['../escape.gguf', '/etc/passwd', 'a/../../b.gguf', 'back\\slash.gguf'])('a file named %s is refused before anything is downloaded', async (name) => {
    handler = json(JSON.stringify({ siblings: [{ rfilename: name, size: 1 }] }));
    expect((await failure(listHubFiles(http(), 'a/b'))).message).toMatch(/unsafe name/);
  });

  it('a reply past the size cap is abandoned', async () => {
    handler = json(`{"siblings":[${'{"rfilename":"x"},'.repeat(70_000)}{"rfilename":"y"}]}`);
    expect((await failure(listHubFiles(http({ maxJsonBytes: 1024 * 1024 }), 'a/b'))).message).toMatch(/larger than 1048576 bytes/);
  });

  it('a redirect loop ends after a few hops', async () => {
    let hops = 0;
    handler = (_req, res) => { hops++; res.writeHead(302, { location: '/again' }); res.end(); };
    expect((await failure(listHubFiles(http(), 'a/b'))).message).toMatch(/redirected more than 5 times/);
    expect(hops).toBe(6);
  });

  it('a server that never answers is given up on', async () => {
    handler = (_req, res) => void open.push(res);
    expect((await failure(listHubFiles(http({ headersTimeoutMs: 300 }), 'a/b'))).message).toMatch(/did not answer .*no reply within 0.3 s/);
  });
});

describe('download', () => {
  it('a server sending more than the declared size is cut off, and nothing is kept as the file', async () => {
    handler = (_req, res) => { res.writeHead(200); res.end(Buffer.concat([data, Buffer.from('extra')])); };
    const error = await failure(downloadHubFile(http(), 'a/b', file, join(dir, file.name), task));
    expect(error).toBeInstanceOf(IntegrityError);
    expect(error.message).toMatch(/longer than the 16384 bytes the hub declares/);
    await expect(readFile(join(dir, file.name))).rejects.toThrow(/ENOENT/);
  });

  it('a server ignoring Range sends the whole file again: the partial file is started over, not appended to', async () => {
    await writeFile(join(dir, `${file.name}.part`), data.subarray(0, 1000));
    const ranges: Array<string | undefined> = [];
    handler = (req, res) => { ranges.push(req.headers.range); res.writeHead(200); res.end(data); };
    await downloadHubFile(http(), 'a/b', file, join(dir, file.name), task);
    expect(ranges).toEqual(['bytes=1000-']);
    expect(await readFile(join(dir, file.name))).toEqual(data);
  });

  it('a stalled body is abandoned with a plain error; the bytes so far are kept for the rerun', async () => {
    handler = (_req, res) => { res.writeHead(200, { 'content-length': String(data.length) }); res.write(data.subarray(0, 5000)); open.push(res); };
    const error = await failure(downloadHubFile(http({ idleTimeoutMs: 300 }), 'a/b', file, join(dir, file.name), task));
    expect(error).toBeInstanceOf(StorageError);
    expect(error.message).toMatch(/sent nothing for 0.3 s/);
    expect((await readFile(join(dir, `${file.name}.part`))).length).toBe(5000);
  });

  it('wrong bytes of the right size: IntegrityError, and the partial file is deleted', async () => {
    handler = (_req, res) => { res.writeHead(200); res.end(Buffer.alloc(data.length, 7)); };
    expect(await failure(downloadHubFile(http(), 'a/b', file, join(dir, file.name), task))).toBeInstanceOf(IntegrityError);
    await expect(readFile(join(dir, `${file.name}.part`))).rejects.toThrow(/ENOENT/);
  });

  it('a partial file another live aim is writing is left alone; a lock a killed run left is taken over', async () => {
    handler = (_req, res) => { res.writeHead(200); res.end(data); };
    const lock = join(dir, `${file.name}.part.lock`);
    await writeFile(lock, String(process.ppid));
    const error = await failure(downloadHubFile(http(), 'a/b', file, join(dir, file.name), task));
    expect(error).toBeInstanceOf(ConflictError);
    expect(error.message).toMatch(new RegExp(`another aim \\(pid ${process.ppid}\\) is downloading a/b/m-q8_0.gguf`));
    await writeFile(lock, String(2 ** 22 - 3));
    await downloadHubFile(http(), 'a/b', file, join(dir, file.name), task);
    expect(await readFile(join(dir, file.name))).toEqual(data);
    await expect(readFile(lock)).rejects.toThrow(/ENOENT/);
  });
});
