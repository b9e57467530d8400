// gc records (gc/<id>.json) as an attacker or a damaged disk leaves them, through the real CLI under the harness's
// time and memory bound. Pushes read them (to avoid packs a gc is removing) and gc reads them (to delete the expired
// ones). A record that does not read (garbage, too big, pack names that are paths, a link, a folder) is passed over:
// the push and the gc succeed, every version verifies and pulls, and nothing outside the repository's packs/ and
// gc/ is deleted or changed. A record that reads is honoured, however many packs it names, within the bounds. A
// record expires by the store's clock (its file's time), so a time far in the future or past inside it changes nothing.
import { cp, mkdir, readdir, symlink, truncate, utimes, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveFile, generateModel, spreadChanges } from '../../fixtures/generate-model.js';
import { createWorkspace, expectSameTree, type Workspace } from '../helpers/cli.js';
import { expectUnchanged, runBounded, snapshot } from './harness.js';

const KiB = 1024;
const DAY_MS = 24 * 60 * 60 * 1000;
const SECRET = 'TOP-SECRET-gc-records-41c9';
const RECORD = 'gc/0123456789abcdef.json';
const NOW = ['--grace', '0', '--max-unused', '0', '--json'];

interface Ctx {
  ws: Workspace;
  repo: string;
  record: string;
}

interface HostileRecord {
  name: string;
  plant(ctx: Ctx): Promise<void>;
  /** Whether gc leaves the planted record in place (default: whatever it chooses). */
  keptByGc?: boolean;
  /** Bounds beyond the harness's defaults. */
  timeoutMs?: number;
}

const body = (packs: string[], startedAt = new Date().toISOString()) => JSON.stringify({ format: 1, startedAt, packs });
const write = (bytes: string | Buffer) => async (ctx: Ctx) => writeFile(ctx.record, bytes);
const aged = (days: number, bytes: string) => async (ctx: Ctx) => {
  await writeFile(ctx.record, bytes);
  const when = new Date(Date.now() - days * DAY_MS);
  await utimes(ctx.record, when, when);
};

const CASES: HostileRecord[] = [
  { name: 'not JSON, with terminal escapes', plant: write(Buffer.from([0x1b, 0x5b, 0x32, 0x4a, 0xff, 0x00])) },
  { name: 'empty', plant: write('') },
  { name: 'a newer format', plant: write(JSON.stringify({ format: 2, startedAt: new Date().toISOString(), packs: [] })) },
  {
    name: 'grown to 1.5 GiB (sparse): never read whole',
    plant: async (ctx) => {
      await writeFile(ctx.record, '{');
      await truncate(ctx.record, 1.5 * 1024 ** 3);
    },
  },
  { name: 'naming a pack by a relative path', plant: write(body(['../../secret/passwd'])) },
  { name: 'naming a pack by an absolute path', plant: async (ctx) => writeFile(ctx.record, body([ctx.ws.path('secret', 'passwd')])) },
  { name: 'naming keys under other prefixes', plant: write(body(['manifests/blake3', 'models/m/tags/v2', 'index.json'])) },
  { name: 'naming 10^6 packs (35 MB, a valid record)', plant: write(body(Array.from({ length: 1_000_000 }, () => randomBytes(16).toString('hex')))), timeoutMs: 60_000 },
  { name: 'a symlink to a file outside the repository', plant: async (ctx) => symlink(ctx.ws.path('secret', 'passwd'), ctx.record), keptByGc: true },
  { name: 'a folder', plant: async (ctx) => void (await mkdir(join(ctx.record, 'inside'), { recursive: true })), keptByGc: true },
  { name: 'a time far in the future, written now: kept', plant: write(body([], '9999-12-31T23:59:59.000Z')), keptByGc: true },
  { name: 'a time far in the future, written 8 days ago: expired', plant: aged(8, body([], '9999-12-31T23:59:59.000Z')), keptByGc: false },
  { name: 'a time far in the past, written now: kept', plant: write(body([], '1970-01-01T00:00:00.000Z')), keptByGc: true },
  { name: 'garbage written 8 days ago: expired', plant: aged(8, 'garbage'), keptByGc: false },
];

let template: Workspace;
beforeAll(async () => {
  // m:v1, then m:v2 sharing most of it, then m:v1 deleted: gc has packs to repack and delete.
  template = await createWorkspace((dir) => ({ r: { type: 'local', path: `${dir}/repo`, packs: true } }));
  await generateModel(template.path('v1'), { seed: 'gc-records', files: [{ path: 'w.bin', size: 600 * KiB }] });
  await deriveFile(template.path('v1', 'w.bin'), template.path('v2', 'w.bin'), spreadChanges(600 * KiB, 0.1, 2), 'v2');
  await generateModel(template.path('fresh'), { seed: 'fresh', files: [{ path: 'x.bin', size: 100 * KiB }] });
  await template.json(['push', 'r/m:v1', template.path('v1')]);
  await template.json(['push', 'r/m:v2', template.path('v2')]);
  await template.json(['model', 'delete-version', 'r', 'm', '--tag', 'v1']);
}, 120_000);
afterAll(() => template.cleanup());

async function hostileWorkspace(): Promise<Ctx> {
  const ws = await createWorkspace((dir) => ({ r: { type: 'local', path: `${dir}/repo`, packs: true } }));
  for (const part of ['repo', 'v2', 'fresh']) await cp(template.path(part), ws.path(part), { recursive: true });
  await mkdir(ws.path('secret'));
  await writeFile(ws.path('secret', 'passwd'), `${SECRET}\n`);
  await mkdir(ws.path('repo', 'gc'), { recursive: true });
  return { ws, repo: ws.path('repo'), record: ws.path('repo', RECORD) };
}

describe('hostile gc records', () => {
  it.each(CASES)('$name: push and gc succeed, everything verifies, nothing outside packs/ and gc/ goes', async (hostile) => {
    const ctx = await hostileWorkspace();
    try {
      await hostile.plant(ctx);
      const outside = await snapshot(ctx.ws.dir, ['repo', 'aim-home', 'out-v2', 'out-fresh']);
      const bounds = { timeoutMs: hostile.timeoutMs };
      const pushed = await runBounded(ctx.ws, ['push', 'r/n:v1', ctx.ws.path('fresh'), '--json'], bounds);
      expect(pushed.code, pushed.stderr).toBe(0);
      const collected = await runBounded(ctx.ws, ['gc', 'r', '--yes', ...NOW], bounds);
      expect(collected.code, collected.stderr).toBe(0);
      expect(collected.json().packs.repacked + collected.json().packs.deleted).toBeGreaterThan(0);
      const verified = await runBounded(ctx.ws, ['verify', 'r', '--json'], bounds);
      expect(verified.code, verified.stderr).toBe(0);
      for (const [ref, source, out] of [['r/m:v2', 'v2', 'out-v2'], ['r/n:v1', 'fresh', 'out-fresh']] as const) {
        const pulled = await runBounded(ctx.ws, ['pull', ref, ctx.ws.path(out), '--json'], bounds);
        expect(pulled.code, pulled.stderr).toBe(0);
        await expectSameTree(ctx.ws.path(out), ctx.ws.path(source));
      }
      await expectUnchanged(ctx.ws.dir, outside, ['repo', 'aim-home', 'out-v2', 'out-fresh']);
      if (hostile.keptByGc !== undefined) {
        const left = await readdir(ctx.ws.path('repo', 'gc'));
        expect(left.includes(RECORD.slice('gc/'.length)), `gc/ holds ${left.join(', ')}`).toBe(hostile.keptByGc);
      }
    } finally {
      await ctx.ws.cleanup();
    }
  }, 180_000);
});
