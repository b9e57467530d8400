// The hub's replies are hostile: each case is a real HTTP server on loopback answering one way a broken or lying
// hub (or HF_ENDPOINT pointing at the wrong thing) could, and each must end in one plain AimError, promptly, with
// nothing tagged that did not check out, and a rerun trusting nothing it cannot check again.
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { listHubFiles } from '../../../src/core/hub/hub-api.js';
import { downloadInto, openHubRepository } from '../../../src/core/hub/hub-fetch.js';
import { resolveVersion } from '../../../src/core/store/resolve.js';
import type { Repository } from '../../../src/core/store/repository.js';
import { HubHttp } from '../../../src/core/hub/hub-http.js';
import { ConflictError, IntegrityError, StorageError } from '../../../src/lib/errors.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
let handler: Handler;
let server: Server;
let endpoint: string;
let dir: string;
const open: ServerResponse[] = [];
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

const http = (limits = {}) => new HubHttp({ endpoint, tokenSource: 'HF_TOKEN' }, limits);
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

describe('download, chunked into the hub repository as it arrives', () => {
  // 3 MiB of varied bytes: several content-defined chunks, so a checkpoint falls inside the file.
  const big = Buffer.concat(Array.from({ length: 96 }, (_, i) => createHash('sha256').update(String(i)).digest()).map((h) => Buffer.concat(Array(1024).fill(h))));
  const bigFile = { name: 'm-f16.gguf', size: big.length, sha256: createHash('sha256').update(big).digest('hex') };
  const journal = () => join(dir, 'hub-downloads', 'm', 't', `${bigFile.name}.chunks`);
  async function fetchInto(files = [file], limits = {}): Promise<Repository> {
    const repository = await openHubRepository(dir);
    await downloadInto(repository, { http: http(limits), hfRepo: 'a/b', files, model: 'm', tag: 't', home: dir, title: 'M', checkpointBytes: 256 * 1024 });
    return repository;
  }
  async function content(repository: Repository): Promise<Buffer> {
    const version = await resolveVersion(repository, { model: 'm', tag: 't' });
    const locations = await repository.locationsFor(version.digest, version.manifest);
    const parts = [];
    for (const chunk of version.manifest.files[0]!.chunks) parts.push(await repository.getChunk(chunk.digest, locations));
    return Buffer.concat(parts);
  }
  const tagged = async () => (await openHubRepository(dir)).getTag('m', 't');

  it('a server sending more than the declared size is cut off, and nothing is tagged', async () => {
    handler = (_req, res) => { res.writeHead(200); res.end(Buffer.concat([data, Buffer.from('extra')])); };
    const error = await failure(fetchInto());
    expect(error).toBeInstanceOf(IntegrityError);
    expect(error.message).toMatch(/longer than the 16384 bytes the hub declares/);
    expect(await tagged()).toBeUndefined();
  });

  it('a stalled body is abandoned plainly; the rerun asks for the rest, and a server ignoring the Range is read past what is stored', async () => {
    handler = (_req, res) => { res.writeHead(200, { 'content-length': String(big.length) }); res.write(big.subarray(0, 2 * 1024 * 1024)); open.push(res); };
    const error = await failure(fetchInto([bigFile], { idleTimeoutMs: 300 }));
    expect(error).toBeInstanceOf(StorageError);
    expect(error.message).toMatch(/sent nothing for 0.3 s/);
    const stored = (JSON.parse(await readFile(journal(), 'utf8')).chunks as Array<[string, number]>).reduce((a, [, n]) => a + n, 0);
    expect(stored).toBeGreaterThan(0);
    const ranges: Array<string | undefined> = [];
    handler = (req, res) => { ranges.push(req.headers.range); res.writeHead(200); res.end(big); };
    expect((await content(await fetchInto([bigFile]))).equals(big)).toBe(true); // toEqual compares a Buffer byte by byte, for seconds
    expect(ranges).toEqual([`bytes=${stored}-`]);
    await expect(readFile(journal())).rejects.toThrow(/ENOENT/);
  });

  it('a 206 for other bytes than asked is refused rather than stitched in', async () => {
    handler = (_req, res) => { res.writeHead(200, { 'content-length': String(big.length) }); res.write(big.subarray(0, 2 * 1024 * 1024)); open.push(res); };
    await failure(fetchInto([bigFile], { idleTimeoutMs: 300 }));
    handler = (_req, res) => { res.writeHead(206, { 'content-range': `bytes 0-${big.length - 1}/${big.length}` }); res.end(big); };
    expect((await failure(fetchInto([bigFile]))).message).toMatch(/answered the Range request .* with other bytes \(HTTP 206/);
    expect(await tagged()).toBeUndefined();
  });

  it('wrong bytes of the right size: IntegrityError, nothing tagged, and the journal is dropped', async () => {
    handler = (_req, res) => { res.writeHead(200); res.end(Buffer.alloc(big.length, 7)); };
    expect(await failure(fetchInto([bigFile]))).toBeInstanceOf(IntegrityError);
    expect(await tagged()).toBeUndefined();
    await expect(readFile(journal())).rejects.toThrow(/ENOENT/);
  });

  it('a journal that is not aim\'s is refused plainly, and one naming chunks the repository lacks is not trusted', async () => {
    handler = (_req, res) => { res.writeHead(200); res.end(big); };
    await mkdir(join(dir, 'hub-downloads', 'm', 't'), { recursive: true });
    await writeFile(journal(), '{"sha256": 5}');
    expect((await failure(fetchInto([bigFile]))).message).toMatch(/is not a download journal aim wrote/);
    const absent = `blake3:${'ab'.repeat(32)}`;
    await writeFile(journal(), JSON.stringify({ sha256: bigFile.sha256, size: bigFile.size, chunks: [[absent, 1000]] }));
    const ranges: Array<string | undefined> = [];
    handler = (req, res) => { ranges.push(req.headers.range); res.writeHead(200); res.end(big); };
    expect((await content(await fetchInto([bigFile]))).equals(big)).toBe(true); // toEqual compares a Buffer byte by byte, for seconds
    expect(ranges).toEqual([undefined]);
  });

  it('a download another live aim is storing is left alone; a lock a killed run left is taken over', async () => {
    handler = (_req, res) => { res.writeHead(200); res.end(data); };
    await mkdir(join(dir, 'hub-downloads', 'm', 't'), { recursive: true });
    const lock = join(dir, 'hub-downloads', 'm', 't', `${file.name}.chunks.lock`);
    await writeFile(lock, String(process.ppid));
    const error = await failure(fetchInto());
    expect(error).toBeInstanceOf(ConflictError);
    expect(error.message).toMatch(new RegExp(`another aim \\(pid ${process.ppid}\\) is downloading a/b/m-q8_0.gguf`));
    await writeFile(lock, String(2 ** 22 - 3));
    expect(await content(await fetchInto())).toEqual(data);
    await expect(readFile(lock)).rejects.toThrow(/ENOENT/);
  });
});
