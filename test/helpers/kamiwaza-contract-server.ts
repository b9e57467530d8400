// A stand-in for the Kamiwaza REST API (the one remote service the tests cannot run), held to the published contract
// in test/contracts/kamiwaza/openapi.json: every request is checked (operation exists, path, query, body) and a
// non-conforming one is answered 422 and recorded; every response body is checked too, so the stand-in cannot drift
// into answering things the real server never would. Tests assert both lists stay empty.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { OpenApiContract, type MatchedOperation } from './openapi-contract.js';
import { KamiwazaState, type Reply } from './kamiwaza-state.js';

/**
 * A reply that breaks the contract on purpose, for the hostile-server tests: it writes to the response itself (an
 * endless body, a slow one, a wrong shape). Such replies skip the response check, since breaking it is the point.
 */
export type Misbehaviour = (res: ServerResponse, honest: Reply) => void;

export interface ContractServerOptions {
  /** The bearer token the server accepts (default "test-token"). */
  token?: string;
}

let sharedContract: OpenApiContract | undefined;

export class KamiwazaContractServer {
  readonly violations: string[] = [];
  readonly responseViolations: string[] = [];
  readonly calls: string[] = [];
  readonly state = new KamiwazaState();
  /** Misbehaviours by operation, e.g. "GET /auth/users/me"; requests are still checked against the contract. */
  readonly misbehave = new Map<string, Misbehaviour>();
  token: string;
  private server?: Server;
  private readonly contract: OpenApiContract;

  constructor(options: ContractServerOptions = {}) {
    this.token = options.token ?? 'test-token';
    // Compiling the 2 MB document once per test file is enough.
    sharedContract ??= new OpenApiContract();
    this.contract = sharedContract;
  }

  /** Base URL clients should use, with the /api prefix the spec's `servers` entry declares. */
  url = '';

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/api`;
    return this.url;
  }

  /** Deployments the server still runs or is starting (a deleted one stays listed as STOPPED). */
  liveDeployments(): Array<Record<string, unknown>> {
    return this.state.deployments.filter((d) => d.status !== 'STOPPED');
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const raw = await readBody(req);
    this.calls.push(`${req.method} ${url.pathname}${url.search}`);
    if (!url.pathname.startsWith('/api/')) {
      // What a real install answers outside /api: its web UI, as HTML.
      res.writeHead(404, { 'content-type': 'text/html' }).end('<html><body>Not Found</body></html>');
      return;
    }
    const path = url.pathname.slice('/api'.length);
    const op = this.contract.match(req.method ?? 'GET', path);
    if (!op) {
      this.violations.push(`${req.method} ${path}: no such operation in the contract`);
      return send(res, 404, { detail: 'Not Found' });
    }
    let body: unknown;
    try {
      body = raw.length > 0 ? JSON.parse(raw) : undefined;
    } catch {
      this.violations.push(`${req.method} ${path}: body is not JSON`);
      return send(res, 422, { detail: [{ loc: ['body'], msg: 'invalid JSON', type: 'json_invalid' }] });
    }
    const problems = this.contract.checkRequest(op, url.searchParams, body, req.headers['content-type']);
    if (problems.length > 0) {
      this.violations.push(...problems.map((p) => `${req.method} ${op.template}: ${p}`));
      return send(res, 422, { detail: problems.map((msg) => ({ loc: ['request'], msg, type: 'contract' })) });
    }
    if (op.operation.security?.length && req.headers.authorization !== `Bearer ${this.token}`) {
      return send(res, 401, { detail: req.headers.authorization ? 'Invalid token' : 'Not authenticated' });
    }
    const misbehaviour = this.misbehave.get(`${op.method.toUpperCase()} ${op.template}`);
    if (misbehaviour) {
      // Let the operation happen (a deploy is recorded) and only spoil its answer.
      return misbehaviour(res, this.state.dispatch(op, url.searchParams, body));
    }
    this.reply(res, op, this.state.dispatch(op, url.searchParams, body));
  }

  private reply(res: ServerResponse, op: MatchedOperation, reply: Reply): void {
    const problems = this.contract.checkResponse(op, reply.status, reply.body);
    if (problems.length > 0) this.responseViolations.push(...problems.map((p) => `${op.method.toUpperCase()} ${op.template}: ${p}`));
    send(res, reply.status, reply.body);
  }
}

export function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json' }).end(text);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export const newId = (): string => randomUUID();
