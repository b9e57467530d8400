// Pieces the serving cases share: a process that is not ours (to plant its pid in a record), records written by
// hand into AIM_HOME, a scan of /proc for anything started on a workspace's behalf, and misbehaving Kamiwaza replies.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ServerResponse } from 'node:http';
import { writeTinyGgufInto } from '../../fixtures/tiny-gguf.js';
import { processIdentity, type ProcessIdentity } from '../../src/serving/process-identity.js';
import { createWorkspace, type Workspace } from '../helpers/cli.js';
import { isAlive } from '../../src/serving/process-utils.js';

export const NO_KAMIWAZA = { KAMIWAZA_BASE_URL: '', KAMIWAZA_BASE_URI: '', KAMIWAZA_API_URL: '' };

/** A workspace whose local repository `team` holds a tiny GGUF as team/tiny:v1. */
export async function servingWorkspace(): Promise<Workspace> {
  const ws = await createWorkspace((dir) => ({ team: { type: 'local', path: join(dir, 'store') } }), NO_KAMIWAZA);
  await writeTinyGgufInto(ws.path('src'), { quant: 'q8_0', seed: 7 });
  await ws.json(['push', 'team/tiny:v1', ws.path('src')]);
  return ws;
}

/** A live process that aim did not start. */
export async function bystander(): Promise<{ child: ChildProcess; identity: ProcessIdentity; kill(): void }> {
  const child = spawn('sleep', ['600'], { stdio: 'ignore' });
  await new Promise<void>((resolve, reject) => child.once('spawn', resolve).once('error', reject));
  const identity = processIdentity(child.pid!)!;
  return { child, identity, kill: () => void (isAlive(child.pid!) && child.kill('SIGKILL')) };
}

export function embeddedRecord(name: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name, state: 'ready', engine: 'embedded', model: 'team/tiny:v1', modelId: 'team/tiny:v1', quant: 'Q8_0', modelPath: '/models/tiny.gguf',
    endpoint: 'http://127.0.0.1:9/v1', startedAt: new Date().toISOString(), port: 9, ...over,
  };
}

export async function writeRecord(home: string, file: string, content: string | Record<string, unknown>): Promise<string> {
  const dir = join(home, 'deployments');
  await mkdir(dir, { recursive: true });
  const path = join(dir, file);
  await writeFile(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

/** Pids of live processes whose command line mentions `text` (a workspace folder): what aim left running there. */
export async function processesMentioning(text: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(text) && !cmdline.includes('vitest')) found.push(Number(entry));
  }
  return found;
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(typeof body === 'string' ? body : JSON.stringify(body));
}

/** Streams `totalBytes` of a JSON array without ever holding them, stopping early when the client goes away. */
export function endlessJson(res: ServerResponse, totalBytes: number): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  const chunk = Buffer.from(`"${'x'.repeat(1024 * 1024 - 4)}",`);
  let sent = 0;
  res.write('[');
  const pump = () => {
    while (sent < totalBytes && !res.destroyed) {
      sent += chunk.length;
      if (!res.write(chunk)) return void res.once('drain', pump);
    }
    if (!res.destroyed) res.end('""]');
  };
  pump();
}

/** Headers at once, then one byte now and then, forever: no idle timeout ever fires. */
export function tricklingJson(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.write('[');
  const timer = setInterval(() => (res.destroyed ? clearInterval(timer) : res.write(' ')), 100);
  res.on('close', () => clearInterval(timer));
}
