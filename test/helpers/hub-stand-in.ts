// A stand-in for the Hugging Face hub, because the hub cannot be reached from the tests. It follows the hub's
// documented HTTP contract for the calls aim makes (and huggingface_hub makes the same ones):
// - GET /api/models/{org}/{repo}?blobs=true: model info whose `siblings` list each file's rfilename and size, and
//   for LFS files `lfs: {sha256, size, pointerSize}`; `gated` says whether a token is needed to download.
// - GET /{org}/{repo}/resolve/main/{file}: 302 to the CDN (another origin, as cdn-lfs / cas-bridge hosts are) with
//   X-Repo-Commit, X-Linked-Etag (the LFS sha256, quoted), X-Linked-Size and ETag headers; 401 on a gated repository
//   without a Bearer token; 404 ("Entry not found" / "Repository not found") for what is not there.
// - The CDN answers GET with the bytes, honouring `Range: bytes=N-` with 206 and Content-Range, and an ETag.
// It records every request (path, Range, Authorization) so tests can prove what was sent where. `stallAfter` makes
// the CDN send that many bytes of a file and then hold the connection open, to kill the client mid-download.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HubRepoSpec {
  files: Record<string, Buffer>;
  gated?: boolean;
  /** Files whose published sha256 is wrong (a corrupted upload or a lying server). */
  wrongSha?: string[];
}

export interface SeenRequest {
  host: 'hub' | 'cdn';
  path: string;
  range?: string;
  authorization?: string;
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');
const COMMIT = 'a'.repeat(40);

export class HubStandIn {
  readonly seen: SeenRequest[] = [];
  /** Bytes the CDN has sent, per file sha256. */
  readonly bytesSent = new Map<string, number>();
  stallAfter?: number;
  private readonly repos = new Map<string, HubRepoSpec>();
  private readonly blobs = new Map<string, Buffer>();
  private readonly stalled: ServerResponse[] = [];
  private hub!: Server;
  private cdn!: Server;
  endpoint = '';
  cdnOrigin = '';
  token = 'hf_test_token';

  static async start(): Promise<HubStandIn> {
    const standIn = new HubStandIn();
    standIn.hub = createServer((req, res) => standIn.onHub(req, res));
    standIn.cdn = createServer((req, res) => standIn.onCdn(req, res));
    standIn.endpoint = `http://127.0.0.1:${await listen(standIn.hub)}`;
    standIn.cdnOrigin = `http://127.0.0.1:${await listen(standIn.cdn)}`;
    return standIn;
  }

  publish(repo: string, spec: HubRepoSpec): void {
    this.repos.set(repo, spec);
    for (const data of Object.values(spec.files)) this.blobs.set(sha256(data), data);
  }

  async stop(): Promise<void> {
    for (const res of this.stalled) res.destroy();
    await Promise.all([this.hub, this.cdn].map((s) => new Promise((r) => { s.closeAllConnections(); s.close(r); })));
  }

  private publishedSha(spec: HubRepoSpec, name: string): string {
    const real = sha256(spec.files[name]!);
    return spec.wrongSha?.includes(name) ? 'f'.repeat(64) : real;
  }

  private onHub(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url!, this.endpoint);
    this.seen.push({ host: 'hub', path: url.pathname, range: req.headers.range, authorization: req.headers.authorization });
    const info = /^\/api\/models\/([^/]+\/[^/]+)$/.exec(url.pathname);
    if (info) return this.modelInfo(decodeURIComponent(info[1]!), res);
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/main\/(.+)$/.exec(url.pathname);
    if (resolve) return this.resolve(decodeURIComponent(resolve[1]!), resolve[2]!.split('/').map(decodeURIComponent).join('/'), req, res);
    notFound(res, 'Repository not found');
  }

  private modelInfo(repo: string, res: ServerResponse): void {
    const spec = this.repos.get(repo);
    if (!spec) return notFound(res, 'Repository not found');
    const siblings = Object.entries(spec.files).map(([name, data]) => ({
      rfilename: name, size: data.length, blobId: sha256(data).slice(0, 40),
      lfs: { sha256: this.publishedSha(spec, name), size: data.length, pointerSize: 135 },
    }));
    json(res, 200, { _id: 'x', id: repo, modelId: repo, sha: COMMIT, private: false, gated: spec.gated ? 'manual' : false, siblings });
  }

  private resolve(repo: string, file: string, req: IncomingMessage, res: ServerResponse): void {
    const spec = this.repos.get(repo);
    if (!spec) return notFound(res, 'Repository not found');
    if (spec.gated && req.headers.authorization !== `Bearer ${this.token}`) {
      return json(res, 401, { error: `Access to model ${repo} is restricted. You must have access to it and be authenticated to access it. Please log in.` });
    }
    const data = spec.files[file];
    if (!data) return notFound(res, 'Entry not found');
    const sha = sha256(data);
    res.writeHead(302, {
      location: `${this.cdnOrigin}/repos/${sha}?X-Amz-Signature=stand-in`, 'x-repo-commit': COMMIT,
      'x-linked-etag': `"${this.publishedSha(spec, file)}"`, 'x-linked-size': String(data.length), etag: `"${sha.slice(0, 40)}"`,
    });
    res.end();
  }

  private onCdn(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url!, this.cdnOrigin);
    this.seen.push({ host: 'cdn', path: url.pathname, range: req.headers.range, authorization: req.headers.authorization });
    const sha = /^\/repos\/([0-9a-f]{64})$/.exec(url.pathname)?.[1];
    const data = sha ? this.blobs.get(sha) : undefined;
    if (!sha || !data) return notFound(res, 'NoSuchKey');
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = range ? Number(range[1]) : 0;
    if (start >= data.length) {
      res.writeHead(416, { 'content-range': `bytes */${data.length}` });
      return void res.end();
    }
    const headers = { etag: `"${sha}"`, 'accept-ranges': 'bytes', 'content-length': String(data.length - start), 'content-type': 'application/octet-stream' };
    res.writeHead(range ? 206 : 200, range ? { ...headers, 'content-range': `bytes ${start}-${data.length - 1}/${data.length}` } : headers);
    const end = this.stallAfter !== undefined ? Math.min(data.length, Math.max(start, this.stallAfter)) : data.length;
    res.write(data.subarray(start, end));
    this.bytesSent.set(sha, (this.bytesSent.get(sha) ?? 0) + (end - start));
    if (end < data.length) return void this.stalled.push(res);
    res.end();
  }
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function notFound(res: ServerResponse, message: string): void {
  res.writeHead(404, { 'content-type': 'application/json', 'x-error-code': message === 'Entry not found' ? 'EntryNotFound' : 'RepoNotFound' });
  res.end(JSON.stringify({ error: message }));
}
